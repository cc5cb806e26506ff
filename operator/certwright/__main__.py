"""``python -m certwright``: run the operator."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import kopf
import prometheus_client
import urllib3
from kubernetes import client, config

from . import __version__, logs, memory
from .controllers import certificates, dnsrecords, gateways, ingresses, issuers
from .domain import api
from .domain.gateways import GATEWAY_GROUP
from .domain.ingresses import parse_default_issuer
from .kube.accounts import AccountRegistry
from .kube.client import Kube
from .kube.context import Context, Settings
from .kube.leader import LeaderElection, LeaseSettings
from .kube.metrics import Metrics, StateCollector
from .kube.podwatch import SolverPodWatch
from .kube.rest import Rest, path
from .kube.scheduler import Scheduler
from .kube.secrets import SecretCache
from .kube.watch import LabelWatch

DEFAULT_SOLVER_IMAGE = f"ghcr.io/certwright/certwright:{__version__}"
log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="certwright", description="ACME certificates for Kubernetes.")
    parser.add_argument("--version", action="version", version=f"certwright {__version__}")
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); all namespaces when absent",
    )
    parser.add_argument(
        "--cluster-resource-namespace",
        default=os.environ.get("POD_NAMESPACE", "certwright"),
        help="where the Secrets a ClusterIssuer names live (default: the operator's own namespace)",
    )
    parser.add_argument("--solver-image", default=DEFAULT_SOLVER_IMAGE, help="image of the HTTP-01 solver Pods")
    parser.add_argument(
        "--selfcheck-nameservers",
        default="",
        help="comma-separated host[:port] DNS servers the self-check asks (split-horizon clusters); "
        "default: the system resolver",
    )
    parser.add_argument("--max-concurrent-issuances", type=int, default=100)
    parser.add_argument(
        "--default-issuer",
        default="",
        help="ClusterIssuer/NAME or Issuer/NAME for Ingresses annotated only with kubernetes.io/tls-acme",
    )
    parser.add_argument(
        "--ari-restart-spread",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="after a start, ask the CA for each certificate's renewal window (ARI) at a random moment within "
        "this many seconds (default 3600; 0: all at once); sooner for one whose renewal time comes first",
    )
    parser.add_argument(
        "--leader-elect",
        action="store_true",
        help="run as one of several replicas: act only while holding the Lease (the others keep their caches "
        "warm and take over when it is not renewed)",
    )
    parser.add_argument(
        "--leader-election-namespace",
        default=os.environ.get("POD_NAMESPACE", ""),
        help="where the Lease lives (default: the operator's namespace, else --cluster-resource-namespace)",
    )
    parser.add_argument("--leader-election-lease-duration", type=float, default=15.0, metavar="SECONDS")
    parser.add_argument("--leader-election-renew-deadline", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--leader-election-retry-period", type=float, default=2.0, metavar="SECONDS")
    parser.add_argument(
        "--no-watch-list",
        dest="watch_list",
        action="store_false",
        help="fetch the initial state of watched resources with LIST, not a watch-list (sendInitialEvents); "
        "for API servers before Kubernetes 1.32 or with the WatchList feature off",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--log-format", default="text", choices=["text", "json"], help="json: one object per line, for a log stack"
    )
    parser.add_argument(
        "--metrics-address",
        default=":9402",
        help="host:port to serve Prometheus metrics on (default :9402, as cert-manager's: all addresses); "
        "off when empty",
    )
    parser.add_argument(
        "--health-address",
        default="",
        help="host:port to serve /healthz on (liveness and readiness probes); off when empty",
    )
    return parser.parse_args(argv)


def build_registry(*, gateway_api: bool = False, watch_list: bool = True) -> kopf.OperatorRegistry:
    """kopf's part of the operator: how it logs in, its settings, and the handlers of Ingresses and of
    Gateways (only where the cluster serves them: ``gateway_api``). certwright's own resources are
    watched by the operator itself (``resource_watches``), started here once the listeners are in place.

    With ``watch_list`` each watched resource starts with one watch-list request (its objects streamed
    one by one, Kubernetes 1.34+) instead of a LIST and then a WATCH: a restart asks half as much."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs) or in_cluster_login()

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False  # our Events are explicit, with our reasons
        settings.scanning.disabled = True  # no CRD or namespace discovery: RBAC grants only what we use
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.watching.initial_streaming = watch_list
        # A worker per object lives this long after its last event, holding that event's body (kopf's
        # default is 5 s): a start-up with thousands of Ingresses does not keep them all at once.
        settings.queueing.idle_timeout = 0.5
        settings.networking.error_backoffs = RetryForever()

    certificates.setup(registry)
    ingresses.setup(registry)
    if gateway_api:
        gateways.setup(registry)

    @kopf.on.startup(registry=registry)
    async def start_watches(memo: kopf.Memo, **_: Any) -> None:
        """The operator's own watches (issuers, Challenges, Certificates) start after every listener
        is in place; Certificates are judged once issuers and Challenges are seen in full. That wait
        is a task of its own: a watch that cannot sync (a CRD missing, RBAC) must not hold kopf's
        start-up, and with it the Ingresses, Gateways and the health endpoint."""
        context: Context = memo["context"]
        catalog = [stream for stream in context.streams if stream.name != api.CERTIFICATES]
        context.catalog_synced.clear()
        for stream in context.streams:
            stream.start()

        async def catalog_synced() -> None:
            await asyncio.gather(*(stream.synced.wait() for stream in catalog))
            context.catalog_synced.set()

        memo["catalog_task"] = asyncio.get_running_loop().create_task(catalog_synced(), name="catalog-synced")

    return registry


def resource_watches(
    context: Context, rest: Rest, loop: asyncio.AbstractEventLoop, namespaces: Sequence[str], *, watch_list: bool
) -> list[LabelWatch]:
    """Watches of certwright's own resources, one per namespace served (or one for all): Issuers,
    ClusterIssuers (cluster-wide only), Challenges and Certificates. kopf keeps a record and a worker per
    object it watches, and queues whole bodies: for these, the operator's own watch keeps them compact."""
    scopes: Sequence[str | None] = namespaces or [None]
    handlers: list[tuple[str, Callable[[str, dict[str, Any]], None], Sequence[str | None]]] = [
        (api.ISSUERS, issuers.observe(context, "Issuer"), scopes),
        (api.CHALLENGES, dnsrecords.observe(context), scopes),
        (api.CERTIFICATES, certificates.observe(context), scopes),
    ]
    if not namespaces:  # a Role cannot grant ClusterIssuers
        handlers.insert(1, (api.CLUSTER_ISSUERS, issuers.observe(context, "ClusterIssuer"), [None]))
    watches = []
    for plural, handler, where in handlers:
        for namespace in where:
            stream = LabelWatch(plural, rest, path(api.GROUP, api.VERSION, plural, namespace), "", loop, handler)
            stream.streaming = watch_list
            watches.append(stream)
    return watches


def serves_gateways(rest: Rest) -> bool:
    """Whether API discovery lists ``gateways`` in ``gateway.networking.k8s.io/v1`` (open to every
    authenticated user); when not, one line says Gateway support is off.

    The Gateway API's CRDs are optional (issue 14), and kopf must not watch a resource that does not
    exist. A discovery failure is not fatal: Gateways are left out, and the line names the failure.
    """
    wanted = f"{GATEWAY_GROUP}/v1 gateways"
    try:
        listed = rest.request("GET", f"/apis/{GATEWAY_GROUP}/v1", timeout=30)
    except client.ApiException as error:
        failed = f"discovery of {wanted} failed: {error.status} {error.reason}"
        reason = f"no {wanted}" if error.status == 404 else failed
    except (urllib3.exceptions.HTTPError, OSError) as error:  # unreachable, TLS, …: the rest may still work
        reason = f"discovery of {wanted} failed: {type(error).__name__}: {error}"
    else:
        if any(resource.get("name") == "gateways" for resource in listed.get("resources") or []):
            return True
        reason = f"no {wanted}"
    log.info("Gateway API not installed (%s): Gateway support is off; restart the operator after installing it", reason)
    return False


def lean_insights() -> Any | None:
    """kopf's view of the cluster with only the backbone resource it needs here: namespaces.

    At start-up kopf discovers every API group its handlers use plus its backbone's: CRDs (for
    scanning, which is off), webhook configurations (no admission here), Events (posting is off) and
    peerings (standalone). Dropping those saves two discovery requests per start (a restart costs 15
    requests, not 17). It uses kopf's ``insights`` argument with a class kopf does not export; with a
    kopf where that is not as expected, kopf's own default is used (None).
    """
    try:
        from kopf._cogs.structs import references
    except ImportError:
        return None
    insights = references.Insights()
    selectors = getattr(insights.backbone, "selectors", None)
    if not isinstance(selectors, list) or references.NAMESPACES not in selectors:
        return None
    insights.backbone.selectors = [references.NAMESPACES]  # kopf's namespace observer waits for it
    return insights


SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def in_cluster_login(
    environ: Mapping[str, str] = os.environ, folder: Path = SERVICE_ACCOUNT
) -> kopf.ConnectionInfo | None:
    """The API server as a Pod finds it: KUBERNETES_SERVICE_HOST/PORT and the mounted token (re-read on 401).

    kopf's own service-account login names https://kubernetes.default.svc, which needs cluster DNS;
    client-go and the kubernetes client use these variables, and so does this.
    """
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    token = folder / "token"
    if not host or not port or not token.exists():
        return None
    namespace = folder / "namespace"
    return kopf.ConnectionInfo(
        server=f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}",
        ca_path=str(folder / "ca.crt"),
        scheme="Bearer",
        token=token.read_text().strip(),
        default_namespace=namespace.read_text().strip() if namespace.exists() else None,
    )


IO_THREADS = 32  # blocking calls (the API server, the CA) run in this many threads


def api_client() -> client.ApiClient:
    """From the kubeconfig, else in-cluster; a connection per I/O thread (the client's default of ten
    discards and re-opens TLS connections under a burst)."""
    configuration = client.Configuration()
    try:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = IO_THREADS + 8  # and the watches' threads
    return client.ApiClient(configuration)


class RetryForever:
    """kopf's delays between retries of a failed API request, never exhausted. kopf lets a watch fail
    for good once its retries run out (a minute by default), and the operator stops with it; an API
    server can be away longer than that in a control-plane upgrade. Iterated afresh for each request."""

    def __iter__(self) -> Iterator[float]:
        yield from (1, 1, 2, 3, 5, 8, 13, 21)
        yield from itertools.repeat(30)


LEASE = "certwright-leader"
STOP_GRACE = 3.0  # seconds running passes get to end at shutdown, well within a Pod's termination grace


def leader_election(options: argparse.Namespace, rest: Rest) -> LeaderElection:
    settings = LeaseSettings(
        lease_duration=options.leader_election_lease_duration,
        renew_deadline=options.leader_election_renew_deadline,
        retry_period=options.leader_election_retry_period,
    )
    namespace = options.leader_election_namespace or options.cluster_resource_namespace
    identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    return LeaderElection(rest, namespace, LEASE, identity, settings)


async def lead(election: LeaderElection, context: Context) -> None:
    """Act once leading; when the Lease is lost, stop at once: the process exits (its in-flight work is
    resumed from status by the next leader), so that it never acts beside another."""
    await election.run(started=context.runner.resume)
    logging.shutdown()
    os._exit(3)


async def run(options: argparse.Namespace) -> None:
    if options.metrics_address:
        host, _, port = options.metrics_address.rpartition(":")
        prometheus_client.start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0")
    loop = asyncio.get_running_loop()
    background: list[asyncio.Task[None]] = []
    loop.set_default_executor(ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="certwright-io"))
    kube_client = api_client()
    kube = Kube(kube_client)
    settings = Settings(
        solver_image=options.solver_image,
        selfcheck_nameservers=tuple(s.strip() for s in options.selfcheck_nameservers.split(",") if s.strip()),
        cluster_resource_namespace=options.cluster_resource_namespace,
        max_concurrent_issuances=options.max_concurrent_issuances,
        default_issuer=parse_default_issuer(options.default_issuer),
        cluster_issuers=not options.namespace,
        ari_restart_spread=max(options.ari_restart_spread, 0.0),
    )
    scope = options.namespace[0] if len(options.namespace) == 1 else None  # one namespace: watches stay in it
    rest = Rest(kube_client)
    pods = SolverPodWatch(rest, loop, scope)
    pods.watch.streaming = options.watch_list  # started by the first HTTP-01 challenge that waits for a Pod
    metrics = Metrics(prometheus_client.REGISTRY)
    context = Context(
        kube=kube,
        accounts=AccountRegistry(kube, settings.cluster_resource_namespace, observe=metrics.acme_exchange),
        pods=pods,
        settings=settings,
        issuance_slots=asyncio.Semaphore(settings.max_concurrent_issuances),
        metrics=metrics,
    )
    prometheus_client.REGISTRY.register(StateCollector(context))
    context.secrets = SecretCache(rest, loop, context.wake_certificate, scope)
    context.streams = resource_watches(context, rest, loop, options.namespace, watch_list=options.watch_list)
    context.secrets.watch.streaming = options.watch_list
    context.secrets.start()
    context.accounts.secrets = context.secrets
    context.scheduler = Scheduler(context.wake_certificate, context.clock)
    election = leader_election(options, rest) if options.leader_elect else None
    if election is not None:
        context.runner.paused = True  # watches fill the caches; nothing acts before this replica leads
        background.append(loop.create_task(lead(election, context), name="leader-election"))
    gateway_api = await loop.run_in_executor(None, serves_gateways, rest)
    try:
        await run_kopf(options, context, gateway_api)
    finally:
        await stand_down(context, election, background)


async def stand_down(context: Context, election: LeaderElection | None, background: list[asyncio.Task[None]]) -> None:
    """On shutdown: stop renewing, stop acting (passes get a moment to end), then hand the Lease over."""
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    await context.runner.stop(grace=STOP_GRACE)
    if election is not None:
        await election.release()


async def run_kopf(options: argparse.Namespace, context: Context, gateway_api: bool) -> None:
    await kopf.operator(
        registry=build_registry(gateway_api=gateway_api, watch_list=options.watch_list),
        standalone=True,
        clusterwide=not options.namespace,
        namespaces=options.namespace,
        memo=kopf.Memo(context=context),
        insights=lean_insights(),
        # kopf would ask the password database for a user name, which an image's arbitrary uid lacks.
        identity=cast(Any, f"certwright@{socket.gethostname()}"),  # kopf's Identity: a NewType of str, not exported
        liveness_endpoint=f"http://{options.health_address}/healthz" if options.health_address else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    memory.limit_arenas()  # before any thread starts
    logs.configure(options.log_level, options.log_format)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # a line per health probe
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # "Handler succeeded" for every event
    log.info("certwright %s starting", __version__)
    asyncio.run(run(options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
