"""The provider registry: who may sign receipts, with which key, and when.

A registry file is JSON:

    {"providers": [{"id": "prov-07", "region": "eu-west",
                    "keys": [{"public_key": "<64 hex>", "from_height": 0,
                              "to_height": 1000},
                             {"public_key": "<64 hex>", "from_height": 1000}]}]}

A key signs receipts for heights from_height <= h < to_height (no to_height:
still current); rotating a key sets the old key's to_height, retiring it.
The built-in demo registry holds the providers and publishers the demo
workload signs as, with keys derived from their names.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

import blake3
import msgspec
from nacl.signing import SigningKey, VerifyKey

from engine.errors import InputError
from engine.receipts import U64_MAX

DEMO_PROVIDERS: Final = 64
KEY_LEN: Final = 32
DEMO_SEED_DOMAIN: Final = b"receipt-engine demo key "


class KeySpan(msgspec.Struct, forbid_unknown_fields=True):
    public_key: str
    from_height: int = 0
    to_height: int | None = None


class Provider(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    keys: list[KeySpan]
    region: str | None = None


class RegistryFile(msgspec.Struct, forbid_unknown_fields=True):
    providers: list[Provider]


class Registry:
    def __init__(self, providers: list[Provider]) -> None:
        ids = [p.id for p in providers]
        repeated = {i for i in ids if ids.count(i) > 1}
        if repeated:
            raise InputError(f"provider {sorted(repeated)[0]!r} is listed twice.")
        self.providers = {p.id: p for p in providers}
        self._keys = {p.id: self._spans(p) for p in providers}

    @staticmethod
    def _spans(p: Provider) -> list[tuple[int, int | None, VerifyKey]]:
        if not p.id:
            raise InputError("a provider id must not be empty.")
        spans = [(k.from_height, k.to_height, _verify_key(p.id, n, k))
                 for n, k in enumerate(p.keys)]  # fmt: skip
        _check_spans(p.id, spans)
        return spans

    def key(self, provider: str, height: int) -> VerifyKey | None:
        """The key that signs `provider`'s receipts at `height`, if any."""
        for start, end, key in self._keys.get(provider, ()):
            if start <= height and (end is None or height < end):
                return key
        return None

    def add_key(self, provider: str, public_key: str, from_height: int) -> None:
        """Add a key from `from_height` on, retiring the provider's open key."""
        entry = self.providers.setdefault(provider, Provider(provider, []))
        latest = max((k.from_height for k in entry.keys), default=-1)
        if from_height <= latest:
            raise InputError(
                f"{provider!r} already has a key from height {latest}; a new key "
                f"must start later (--from-height > {latest})."
            )
        for span in entry.keys:
            if span.to_height is None or span.to_height > from_height:
                span.to_height = from_height
        entry.keys.append(KeySpan(public_key, from_height))
        self._keys[provider] = self._spans(entry)

    def save(self, path: Path) -> None:
        body = RegistryFile(list(self.providers.values()))
        try:
            path.write_bytes(msgspec.json.format(msgspec.json.encode(body), indent=2))
        except OSError as exc:
            raise InputError(
                f"cannot write the registry {path}: {exc.strerror}."
            ) from exc


def load_registry(path: Path) -> Registry:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the registry {path}: {exc.strerror}.") from exc
    try:
        return Registry(msgspec.json.decode(data, type=RegistryFile).providers)
    except msgspec.DecodeError as exc:
        raise InputError(f"{path} is not a provider registry: {exc}.") from exc
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc


def _verify_key(provider: str, index: int, span: KeySpan) -> VerifyKey:
    try:
        raw = bytes.fromhex(span.public_key)
        if len(raw) != KEY_LEN:
            raise ValueError(f"{len(raw)} bytes, not {KEY_LEN}")
        return VerifyKey(raw)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"provider {provider!r}, key {index}: not a 64-hex-digit ed25519 "
            f"public key ({exc})."
        ) from None


def _check_spans(provider: str, spans: list[tuple[int, int | None, VerifyKey]]) -> None:
    """Heights within u64, each range non-empty, no two ranges overlapping."""
    ordered = sorted(spans, key=lambda span: span[0])
    for n, (start, end, _) in enumerate(ordered):
        top = U64_MAX if end is None else end
        if not 0 <= start < top <= U64_MAX:
            raise InputError(
                f"provider {provider!r}: key heights {start}..{end} are not a "
                f"range within 0..2**64-1."
            )
        later = ordered[n + 1][0] if n + 1 < len(ordered) else None
        if later is not None and later < top:
            raise InputError(f"provider {provider!r}: two keys cover height {later}.")


def demo_names() -> list[str]:
    return [
        f"{kind}-{i:02d}" for kind in ("prov", "pub") for i in range(DEMO_PROVIDERS)
    ]


@cache
def demo_key(name: str) -> SigningKey:
    """The demo workload's key for `name`, derived from the name alone."""
    return SigningKey(blake3.blake3(DEMO_SEED_DOMAIN + name.encode()).digest())


@cache
def demo_registry() -> Registry:
    return Registry(
        [
            Provider(name, [KeySpan(demo_key(name).verify_key.encode().hex())])
            for name in demo_names()
        ]
    )
