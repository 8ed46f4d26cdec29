"""`digitlab lti ...`: learning platforms from the command line, on the database of the DIGITLAB_* settings
(migrated first, like `serve`). Each command prints JSON."""

import argparse
import json
import sys
from typing import Any


def add_parser(commands: Any) -> None:
    lti = commands.add_parser("lti", help="LTI 1.3: register learning platforms, rotate keys, send grades")
    sub = lti.add_subparsers(dest="lti_command", required=True)
    sub.add_parser("platforms", help="list the registered platforms")
    add = sub.add_parser("add", help="register a platform by hand (the values of its LTI 1.3 tool page)")
    add.add_argument("--name", required=True)
    add.add_argument("--issuer", required=True, help="the platform's issuer, e.g. https://moodle.school.example")
    add.add_argument("--client-id", required=True)
    add.add_argument("--deployment-id", required=True, action="append", help="repeat for several")
    add.add_argument("--auth-login-url", required=True, help="its OIDC authorization endpoint")
    add.add_argument("--auth-token-url", required=True, help="its access-token endpoint")
    add.add_argument("--jwks-url", required=True, help="its public keyset URL")
    add.add_argument("--store-names", action="store_true", help="keep the names it sends (never e-mails)")
    for name, text in (
        ("enable", "let a platform launch again"),
        ("disable", "refuse every launch from a platform"),
        ("remove", "delete a registration (its classes and their work stay)"),
    ):
        sub.add_parser(name, help=text).add_argument("platform_id", type=int)
    sub.add_parser("rotate-keys", help="make a new signing key (the old one stays published for two days)")
    link = sub.add_parser("registration-link", help="a single-use address for a platform's dynamic registration")
    link.add_argument("--base-url", default=None, help="Digit Lab's public address (default DIGITLAB_APP_URL)")
    sub.add_parser("send-grades", help="queue changed scores and send the due ones now (the service does it too)")


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlmodel import col, select

    from digitlab.auth.tables import Role, User
    from digitlab.core.config import get_settings
    from digitlab.core.db import open_database, unit_of_work
    from digitlab.core.errors import DomainError
    from digitlab.lti import grades, keys, registration, service
    from digitlab.lti.schemas import PlatformCreate, PlatformUpdate

    where = f"digitlab lti {args.lti_command}"
    settings = get_settings()
    engine = open_database(settings)
    try:
        if args.lti_command == "send-grades":
            print(json.dumps({"sent": grades.run_once(engine)}))
            return 0
        with unit_of_work(engine) as session:
            answer: Any
            if args.lti_command == "platforms":
                answer = [platform.model_dump(mode="json") for platform in service.list_public(session)]
            elif args.lti_command == "add":
                body = PlatformCreate.model_validate(
                    {
                        "name": args.name,
                        "issuer": args.issuer,
                        "client_id": args.client_id,
                        "deployment_ids": args.deployment_id,
                        "auth_login_url": args.auth_login_url,
                        "auth_token_url": args.auth_token_url,
                        "jwks_url": args.jwks_url,
                        "store_names": args.store_names,
                    },
                    strict=False,
                )
                answer = service.to_public(session, service.create_platform(session, body)).model_dump(mode="json")
            elif args.lti_command in ("enable", "disable"):
                platform = service.get_platform(session, args.platform_id)
                service.update_platform(session, platform, PlatformUpdate(enabled=args.lti_command == "enable"))
                answer = service.to_public(session, platform).model_dump(mode="json")
            elif args.lti_command == "remove":
                service.delete_platform(session, service.get_platform(session, args.platform_id))
                answer = {"removed": args.platform_id}
            elif args.lti_command == "rotate-keys":
                key = keys.rotate(session)
                answer = {"kid": key.kid, "created_at": key.created_at.isoformat()}
            else:  # registration-link
                base = (args.base_url or settings.app_url).rstrip("/")
                # Made by the command line's operator: recorded as made by the first admin.
                admin = session.exec(select(User).where(User.role == Role.ADMIN).order_by(col(User.id))).first()
                if not base or admin is None:
                    print(
                        f"{where}: needs --base-url (or DIGITLAB_APP_URL) and an admin (digitlab admin create)",
                        file=sys.stderr,
                    )
                    return 2
                answer = registration.create_link(session, admin, service.ToolUrls(base)).model_dump(mode="json")
        print(json.dumps(answer, indent=1))
        return 0
    except ValidationError as exc:
        print(f"{where}: {exc.errors()[0]['loc'][-1]}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"{where}: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
