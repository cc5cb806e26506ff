"""After issuance: alternate chains, revocation, ARI and replacement, and failures that name their cause."""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Callable
from pathlib import Path

import josepy as jose
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certwright.acme import ari
from certwright.acme.client import AcmeClient
from certwright.acme.errors import AlreadyReplaced, ConnectionFailed, NotAnAcmeServer, TLSVerificationError
from certwright.acme.transport import Transport, new_session
from certwright_env import AcmeEnvironment
from certwright_env.tlsfiles import RunCA

from .flows import issue, names, new_client


def _root_common_name(pebble: AcmeEnvironment, index: int) -> str:
    root = x509.load_pem_x509_certificate(pebble.management(f"/roots/{index}"))
    value = root.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


def _top_issuer(chain_pem: str) -> str:
    top = x509.load_pem_x509_certificates(chain_pem.encode())[-1]
    value = top.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert isinstance(value, str)
    return value


def test_the_preferred_chain_is_chosen_by_its_root(own_pebble: Callable[..., AcmeEnvironment]) -> None:
    pebble = own_pebble(pebble_env={"PEBBLE_ALTERNATE_ROOTS": "2"})
    client = new_client(pebble)
    client.register()
    requested = names(1)
    default_root, alternate_root = _root_common_name(pebble, 0), _root_common_name(pebble, 2)

    default = issue(client, pebble, requested)
    preferred = issue(client, pebble, requested, preferred_chain=alternate_root)
    unknown = issue(client, pebble, requested, preferred_chain="No Such Root")

    assert _top_issuer(default.chain_pem) == default_root
    assert _top_issuer(preferred.chain_pem) == alternate_root
    assert _top_issuer(unknown.chain_pem) == default_root


def _status(pebble: AcmeEnvironment, certificate: x509.Certificate) -> dict[str, object]:
    status: dict[str, object] = json.loads(pebble.management(f"/cert-status-by-serial/{certificate.serial_number:x}"))
    return status


def test_revocation_by_the_account_with_a_reason(client: AcmeClient, pebble: AcmeEnvironment) -> None:
    issued = issue(client, pebble, names(1))
    assert _status(pebble, issued.leaf)["Status"] == "Valid"

    client.revoke(issued.leaf.public_bytes(serialization.Encoding.DER), reason=4)  # superseded

    status = _status(pebble, issued.leaf)
    assert status["Status"] == "Revoked"
    assert status["Reason"] == 4


def test_revocation_signed_by_the_certificate_key(client: AcmeClient, pebble: AcmeEnvironment) -> None:
    issued = issue(client, pebble, names(1))
    stranger = new_client(pebble)  # no account needed: the certificate's own key signs

    stranger.revoke(issued.leaf.public_bytes(serialization.Encoding.DER), certificate_key=jose.JWKEC(key=issued.key))

    assert _status(pebble, issued.leaf)["Status"] == "Revoked"


def test_renewal_info_gives_a_window_inside_the_validity(client: AcmeClient, pebble: AcmeEnvironment) -> None:
    leaf = issue(client, pebble, names(1), profile="shortlived").leaf

    info = client.renewal_info(leaf)

    assert leaf.not_valid_before_utc <= info.start < info.end <= leaf.not_valid_after_utc
    assert info.retry_after == 21600
    chosen = ari.choose_renewal_time(info, random.Random(7).random)
    assert info.start <= chosen <= info.end


def test_renewal_info_set_by_the_ca_is_read_as_given(client: AcmeClient, pebble: AcmeEnvironment) -> None:
    leaf = issue(client, pebble, names(1)).leaf
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    answer = {
        "suggestedWindow": {"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"},
        "explanationURL": "https://ca.example/mass-revocation",
    }
    pebble.management(
        "/set-renewal-info/",
        {"Certificate": leaf.public_bytes(serialization.Encoding.PEM).decode(), "ARIResponse": json.dumps(answer)},
    )

    info = client.renewal_info(leaf)

    assert (info.start, info.end) == (start, start + datetime.timedelta(days=1))
    assert info.explanation_url == "https://ca.example/mass-revocation"


def test_an_order_replaces_its_predecessor_once(client: AcmeClient, pebble: AcmeEnvironment) -> None:
    requested = names(2)
    first = issue(client, pebble, requested)
    predecessor = ari.cert_id(first.leaf)

    renewed = issue(client, pebble, requested, replaces=predecessor)

    assert renewed.order.body.replaces == predecessor
    with pytest.raises(AlreadyReplaced):
        client.new_order(requested, replaces=predecessor)


@pytest.mark.parametrize("bundle", ["another CA", "system roots"])
def test_a_ca_whose_certificate_does_not_verify_fails_with_a_tls_error(
    pebble: AcmeEnvironment, tmp_path: Path, bundle: str
) -> None:
    ca_file = str(RunCA(tmp_path, "unrelated").cert_file) if bundle == "another CA" else None
    transport = Transport(pebble.directory_url, session=new_session(ca_file))
    with pytest.raises(
        TLSVerificationError, match=r"TLS verification of https://.*/dir failed .*certificate verify failed.*CA bundle"
    ):
        transport.directory()


def test_an_unreachable_directory_names_the_url(pebble: AcmeEnvironment) -> None:
    url = f"https://{pebble.address}:1/directory"
    transport = Transport(url, session=new_session(str(pebble.ca_bundle)), server_retries=0)
    with pytest.raises(ConnectionFailed, match=f"cannot reach the ACME server at {url}"):
        transport.directory()


def test_a_url_that_is_not_an_acme_directory_says_so(pebble: AcmeEnvironment) -> None:
    url = pebble.parts.management_url + "/roots/0"  # answers PEM, not a directory
    transport = Transport(url, session=new_session(str(pebble.ca_bundle)))
    with pytest.raises(NotAnAcmeServer, match=f"{url} is not an ACME directory"):
        transport.directory()


def test_tls_verification_cannot_be_switched_off(pebble: AcmeEnvironment) -> None:
    session = requests.Session()
    session.verify = False
    with pytest.raises(ValueError, match="TLS verification must stay on"):
        Transport(pebble.directory_url, session=session)
