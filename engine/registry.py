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

DEMO_PROVIDERS: Final = 64
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
        self.providers = {p.id: p for p in providers}
        self._keys = {p.id: self._spans(p) for p in providers}

    @staticmethod
    def _spans(p: Provider) -> list[tuple[int, int | None, VerifyKey]]:
        return [(k.from_height, k.to_height, _verify_key(p.id, k)) for k in p.keys]

    def key(self, provider: str, height: int) -> VerifyKey | None:
        """The key that signs `provider`'s receipts at `height`, if any."""
        for start, end, key in self._keys.get(provider, ()):
            if start <= height and (end is None or height < end):
                return key
        return None

    def add_key(self, provider: str, public_key: str, from_height: int) -> None:
        """Add a key from `from_height` on, retiring the provider's open key."""
        entry = self.providers.get(provider) or Provider(provider, [])
        for span in entry.keys:
            if span.to_height is None or span.to_height > from_height:
                span.to_height = from_height
        entry.keys.append(KeySpan(public_key, from_height))
        self.__init__(
            [*(p for p in self.providers.values() if p.id != provider), entry]
        )

    def save(self, path: Path) -> None:
        body = RegistryFile(list(self.providers.values()))
        path.write_bytes(msgspec.json.format(msgspec.json.encode(body), indent=2))


def load_registry(path: Path) -> Registry:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the registry {path}: {exc.strerror}.") from exc
    try:
        return Registry(msgspec.json.decode(data, type=RegistryFile).providers)
    except msgspec.DecodeError as exc:
        raise InputError(f"{path} is not a provider registry: {exc}.") from exc


def _verify_key(provider: str, span: KeySpan) -> VerifyKey:
    try:
        return VerifyKey(bytes.fromhex(span.public_key))
    except ValueError as exc:
        raise InputError(f"provider {provider!r}: bad public key: {exc}.") from exc


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
