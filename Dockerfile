# The one image of the scaled-out deployment: `digitlab serve` (api) and `digitlab worker` (workers).
# Build: docker build -t digitlab .   (docker-compose.yml builds it for you)

# The Python dependencies alone, read from pyproject.toml: this file changes only when a dependency does, so
# the layer that installs them (TensorFlow ...) stays cached when the code or the tool settings change.
FROM python:3.11-slim AS requirements
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
open('requirements.txt', 'w').write(''.join(d + '\n' for d in deps))"

# The web app's vendored browser files (onnxruntime-web, uPlot), from the lock file.
FROM node:22-slim AS frontend
WORKDIR /app/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# The frontend service: nginx with the web app, its vendored files and the proxy to the api (target "web").
FROM nginx:1.27-alpine AS web
# index.html is not here: the api serves it, with the learning platforms that may frame it in its policy.
COPY frontend/styles.css /usr/share/nginx/html/
COPY frontend/src /usr/share/nginx/html/src
COPY --from=frontend /app/frontend/node_modules/onnxruntime-web/dist /usr/share/nginx/vendor/ort
COPY --from=frontend /app/frontend/node_modules/uplot/dist /usr/share/nginx/vendor/uplot
COPY frontend/nginx.conf /etc/nginx/conf.d/default.conf
HEALTHCHECK --interval=15s --timeout=5s --retries=3 CMD wget -qO /dev/null http://127.0.0.1/ || exit 1

# api and worker (the default target).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DIGITLAB_DATA_DIR=/data \
    DIGITLAB_FRONTEND_DIR=/app/frontend
WORKDIR /app

# Dependencies first (cached while only the code changes), then the package itself without them; pip check
# fails the build if the two ever disagree.
COPY --from=requirements /src/requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt
COPY pyproject.toml ./
COPY backend ./backend
RUN pip install --no-deps . && pip check

COPY frontend ./frontend
COPY --from=frontend /app/frontend/node_modules ./frontend/node_modules

RUN useradd --create-home --uid 10001 digitlab && mkdir -p /data && chown digitlab:digitlab /data
USER digitlab
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"
CMD ["digitlab", "serve", "--host", "0.0.0.0", "--port", "8000"]
