// ESLint (flat config) for the web app: `frontend/node_modules/.bin/eslint frontend/src`
// (scripts/test runs it). Types are tsc's job (tsconfig.json); this catches the rest.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/**"] },
  js.configs.recommended,
  {
    files: ["src/**/*.js"],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_", caughtErrors: "none" }],
      "no-var": "error",
      "prefer-const": "error",
      "eqeqeq": ["error", "always", { null: "ignore" }],
      "no-implicit-globals": "error",
      "no-shadow": "error",
      "no-throw-literal": "error",
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-script-url": "error",
      "object-shorthand": ["error", "always"],
      // The sandboxed iframes of learning platforms block them: dom.js's ask/confirmDialog/promptDialog instead.
      "no-alert": "error",
      "no-restricted-globals": ["error",
        ...["alert", "confirm", "prompt"].map((name) => ({ name, message: "Blocked in sandboxed iframes: use ask() from dom.js." }))],
    },
  },
  {
    files: ["src/inference/worker.js"],
    languageOptions: { globals: { ...globals.worker } },
  },
];
