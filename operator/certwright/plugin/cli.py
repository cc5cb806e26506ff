"""``kubectl-certwright``: the argument parser and the commands (list, status, inspect secret, renew, check).

kubectl finds the plugin on PATH (``kubectl certwright …``); flags follow the command, as kubectl's do.
Exit status: 0 done, 1 an error the message explains (or ``check`` found a name that fails), 2 bad usage.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml  # type: ignore[import-untyped]  # PyYAML comes with kubernetes, its stubs do not

from .. import __version__
from ..domain import api
from ..domain.conditions import timestamp
from . import inspection, listing, status
from .cluster import Cluster, connect
from .errors import NoSuchObject, PluginError

DEFAULT_SOLVER_IMAGE = f"ghcr.io/certwright/certwright:{__version__}"  # as the operator's --solver-image


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kubectl certwright", description="See and exercise certwright's Certificates with your kubeconfig."
    )
    parser.add_argument("--version", action="version", version=f"kubectl-certwright {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kubeconfig", help="the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    common.add_argument("--context", help="the kubeconfig context to use")
    common.add_argument("-n", "--namespace", help="the namespace (default: the context's, else default)")

    def output(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("-o", "--output", choices=["text", "json", "yaml"], default="text")

    listing_ = commands.add_parser(
        "list", parents=[common], help="every Certificate, soonest expiry first, with what needs attention"
    )
    listing_.add_argument("-A", "--all-namespaces", action="store_true")
    listing_.add_argument("-l", "--selector", default="", help="label selector, e.g. team=web")
    output(listing_)

    status_ = commands.add_parser("status", parents=[common], help="one Certificate and everything around it")
    status_.add_argument("name")
    output(status_)

    inspect_ = commands.add_parser("inspect", help="decode a TLS Secret")
    kinds = inspect_.add_subparsers(dest="kind", required=True, metavar="KIND")
    secret_ = kinds.add_parser("secret", parents=[common], help="a kubernetes.io/tls Secret")
    secret_.add_argument("name")
    secret_.add_argument("--ca-bundle", type=Path, help="a PEM file of trusted roots to verify the chain against")
    output(secret_)

    renew_ = commands.add_parser("renew", parents=[common], help="force renewal (the certwright.dev/renew annotation)")
    renew_.add_argument("names", nargs="*", metavar="NAME")
    renew_.add_argument("--all", action="store_true", help="every Certificate in the namespace")
    renew_.add_argument("-l", "--selector", default="", help="the Certificates with these labels")
    renew_.add_argument("-A", "--all-namespaces", action="store_true")

    check_ = commands.add_parser(
        "check", parents=[common], help="dry run: prove the account and every name's challenge path, order nothing"
    )
    check_.add_argument("name")
    check_.add_argument(
        "--cluster-resource-namespace",
        default="certwright",
        help="where a ClusterIssuer's Secrets live (the operator's namespace; default: certwright)",
    )
    check_.add_argument("--solver-image", default=DEFAULT_SOLVER_IMAGE, help="image of the HTTP-01 solver Pod")
    check_.add_argument(
        "--selfcheck-nameservers",
        default="",
        help="comma-separated host[:port] DNS servers to resolve names with (as the operator's flag)",
    )
    check_.add_argument(
        "--timeout",
        type=float,
        help="seconds each name's self-check or propagation check retries "
        "(default: the solver's selfCheck.timeoutSeconds)",
    )

    args = parser.parse_args(argv)
    if args.command == "renew" and bool(args.names) + args.all + bool(args.selector) != 1:
        parser.error("renew needs exactly one of: NAME…, --all, or -l SELECTOR")
    if getattr(args, "all_namespaces", False) and args.namespace:
        parser.error("-A and -n exclude each other")
    if args.command == "renew" and args.all_namespaces and args.names:
        parser.error("renew NAME works in one namespace; use --all or -l with -A")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: connect with the user's kubeconfig, run the command, say what went wrong."""
    args = parse_args(argv)
    try:
        api_client, default_namespace = connect(args.kubeconfig, args.context)
        with api_client:
            return run(args, Cluster(api_client), default_namespace, now=_now(), out=sys.stdout)
    except PluginError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def run(
    args: argparse.Namespace, cluster: Cluster, default_namespace: str, *, now: datetime.datetime, out: TextIO
) -> int:
    """Run one parsed command against ``cluster``; the exit status."""
    namespace = args.namespace or default_namespace
    if args.command == "list":
        where = None if args.all_namespaces else namespace
        rows = listing.rows(cluster.list_custom(api.CERTIFICATES, where, args.selector), now)
        if args.output != "text":
            return _dump([r.to_dict() for r in rows], args.output, out)
        if not rows:
            print("No Certificates found" + ("" if where is None else f" in namespace {where}") + ".", file=out)
            return 0
        print(listing.table(rows, all_namespaces=args.all_namespaces), file=out)
        return 0
    if args.command == "status":
        report = status.gather(cluster, namespace, args.name, now)
        return _dump(report, args.output, out) if args.output != "text" else _print(status.render(report), out)
    if args.command == "inspect":
        return _inspect(args, cluster, namespace, now, out)
    if args.command == "renew":
        return _renew(args, cluster, namespace, now, out)
    from . import check  # the dry run's DNS and ACME imports are only needed here

    return check.run(args, cluster, namespace, out=out)


def _inspect(args: argparse.Namespace, cluster: Cluster, namespace: str, now: datetime.datetime, out: TextIO) -> int:
    bundle = None
    if args.ca_bundle is not None:
        try:
            bundle = args.ca_bundle.read_bytes()
        except OSError as error:
            raise PluginError(f"cannot read --ca-bundle {args.ca_bundle}: {error.strerror}") from error
    secret = cluster.get_secret(namespace, args.name)
    if secret is None:
        raise NoSuchObject(f'Secret "{args.name}" not found in namespace {namespace}')
    report = inspection.inspect_data(secret.get("data") or {}, now, bundle)
    if args.output != "text":
        _dump({"namespace": namespace, "name": args.name, **report.to_dict()}, args.output, out)
    else:
        print(inspection.render(f"{namespace}/{args.name}", report), file=out)
    return 1 if report.problems else 0


def _renew(args: argparse.Namespace, cluster: Cluster, namespace: str, now: datetime.datetime, out: TextIO) -> int:
    """Annotate each chosen Certificate once; the operator issues and removes the annotation."""
    if args.names:
        targets = []
        for name in args.names:
            if cluster.get_custom(api.CERTIFICATES, namespace, name) is None:
                raise NoSuchObject(f'Certificate "{name}" not found in namespace {namespace}')
            targets.append((namespace, name))
    else:
        where = None if args.all_namespaces else namespace
        found = cluster.list_custom(api.CERTIFICATES, where, args.selector)
        targets = sorted((c["metadata"]["namespace"], c["metadata"]["name"]) for c in found)
        if not targets:
            print("No Certificates matched; nothing to renew.", file=out)
            return 0
    for target_namespace, name in targets:
        cluster.annotate(api.CERTIFICATES, target_namespace, name, {api.ANNOTATION_RENEW: timestamp(now)})
        print(f"certificate.{api.GROUP}/{name} in {target_namespace}: renewal requested", file=out)
    return 0


def _dump(data: Any, form: str, out: TextIO) -> int:
    if form == "json":
        print(json.dumps(data, indent=2), file=out)
    else:
        print(yaml.safe_dump(data, sort_keys=False), end="", file=out)
    return 0


def _print(text: str, out: TextIO) -> int:
    print(text, file=out)
    return 0


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
