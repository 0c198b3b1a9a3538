"""Sign-in with OpenID Connect and OAuth 2.0 providers, and the identity links.

Public: [`ExternalIdentity`][authmanager.identities.ExternalIdentity] (what the
loader's `get_user_for_identity` receives), `IdentityInfo`, `ProviderConfig`,
`FlowStart`, `FlowResult` and `safe_next_path`. The services are built by the
manager; importing this package needs no optional extra (the provider client,
`authmanager.identities.providers`, needs `authmanager[oidc]`).
"""

from authmanager._core.config.identities import ProviderConfig, UserinfoFields
from authmanager.identities import tables as _tables  # noqa: F401 - registers the tables
from authmanager.identities.linking import IdentityLinks
from authmanager.identities.nextpath import safe_next_path
from authmanager.identities.types import ExternalIdentity, FlowResult, FlowStart, IdentityInfo

__all__ = [
    "ExternalIdentity",
    "FlowResult",
    "FlowStart",
    "IdentityInfo",
    "IdentityLinks",
    "ProviderConfig",
    "UserinfoFields",
    "safe_next_path",
]
