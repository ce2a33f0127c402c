# SPDX-License-Identifier: MIT
"""Signing for the Secure Boot tests, at test time into build/: Debian's
test key from the ovmf package (the "snakeoil" key in the snakeoil
firmware's PK, KEK and db; passphrase "snakeoil", see
/usr/share/doc/ovmf/README.Debian) and Debian's shim from shim-unsigned."""
import os
import subprocess

from linux import CACHE, _locked

SNAKEOIL_KEY = "/usr/share/ovmf/PkKek-1-snakeoil.key"
SNAKEOIL_CERT = "/usr/share/ovmf/PkKek-1-snakeoil.pem"
SHIM = "/usr/lib/shim/shimx64.efi"
# shim starts this file from its own folder (its DEFAULT_LOADER).
SHIM_SECOND_STAGE = "grubx64.efi"


def _key():
    """sbsign cannot ask for a passphrase: decrypt the key once."""
    out = os.path.join(CACHE, "snakeoil.key")
    if not os.path.exists(out):
        subprocess.run(["openssl", "rsa", "-in", SNAKEOIL_KEY, "-passin", "pass:snakeoil",
                        "-out", out + ".tmp"], check=True, capture_output=True)
        os.rename(out + ".tmp", out)
    return out


@_locked
def sign(src, name):
    """A copy of src signed with the snakeoil key, in the cache as name."""
    out = os.path.join(CACHE, "signed", name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    # Another worker may be copying the last one: replace it whole.
    tmp = f"{out}.{os.getpid()}"
    subprocess.run(["sbsign", "--key", _key(), "--cert", SNAKEOIL_CERT,
                    "--output", tmp, src], check=True, capture_output=True)
    os.replace(tmp, out)
    return out


def unsigned(src, name):
    """A copy of src with every signature removed."""
    out = os.path.join(CACHE, "unsigned", name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = f"{out}.{os.getpid()}"
    subprocess.run(["cp", src, tmp], check=True)
    if has_signature(tmp):
        subprocess.run(["sbattach", "--remove", tmp], check=True, capture_output=True)
    assert not has_signature(tmp)
    os.replace(tmp, out)
    return out


def has_signature(path):
    r = subprocess.run(["sbverify", "--list", path], capture_output=True, text=True)
    return "signature 1" in r.stdout


def verifies(path, cert=SNAKEOIL_CERT):
    return subprocess.run(["sbverify", "--cert", cert, path],
                          capture_output=True).returncode == 0
