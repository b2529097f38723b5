#!/usr/bin/env python3
"""Turns Debian python3-* packages (.deb files) into wheels: an offline wheelhouse for the tests.

Usage: debian-wheels.py OUT_DIR PKG.deb...

Why: tests have no network, so `pip install -r requirements.txt` in the `wharf init` Python fixture
installs from a wheelhouse (`pip --no-index --find-links`) instead of PyPI. Debian ships the same
libraries as installed trees with .egg-info metadata; each becomes a proper wheel (PEP 427): the
package's top-level modules, plus a `<name>-<version>.dist-info` with METADATA, WHEEL,
entry_points.txt, top_level.txt and a RECORD of sha256 digests. Debian strips `install_requires`
from the metadata (dpkg's Depends carries them), so Requires-Dist is rebuilt from the package's
Depends on the other python3-* packages given here. Deterministic: sorted entries, fixed timestamps.
"""

import base64
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile

EPOCH = (1980, 1, 1, 0, 0, 0)


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], check=True, capture_output=True, text=True).stdout.strip()


def normalize(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def requires_dist(requires_txt):
    """setuptools' requires.txt (`[extra:marker]` sections) → Requires-Dist values."""
    out, extra, marker = [], None, None
    for line in requires_txt.splitlines():
        line = line.strip()
        if not line:
            continue
        section = re.fullmatch(r"\[([^:\]]*)(?::(.*))?\]", line)
        if section:
            extra, marker = section.group(1) or None, section.group(2)
            continue
        conditions = [f"({marker})"] if marker else []
        if extra:
            conditions.append(f'extra == "{extra}"')
        out.append(line + (f"; {' and '.join(conditions)}" if conditions else ""))
    return out


def debian_requires(deb, dists_by_package):
    """`python3-werkzeug (>= 2.2.2)` in Depends → `werkzeug>=2.2.2` (only packages made into wheels here)."""
    out = []
    for alternative in deb_field(deb, "Depends").split(","):
        m = re.match(r"\s*(python3-[a-z0-9.+-]+)(?::any)?\s*(?:\((>=|=|<<|>>|<=)\s*([^)\s]+)\))?", alternative)
        if not m or m.group(1) not in dists_by_package:
            continue
        name, op, version = dists_by_package[m.group(1)], m.group(2), m.group(3)
        if op in (">=", "<="):
            version = re.sub(r"[-~+].*$", "", version.split(":")[-1])
            out.append(f"{name}{op}{version}")
        else:
            out.append(name)
    return out


def resolve_in(root, path):
    """`path` inside the unpacked tree `root`, with absolute symlink targets taken inside `root`."""
    if not os.path.islink(path):
        return path
    target = os.readlink(path)
    target = os.path.join(root, target.lstrip("/")) if os.path.isabs(target) else os.path.join(os.path.dirname(path), target)
    return resolve_in(root, os.path.normpath(target))


def egg_info_dir(dist_packages):
    found = [d for d in os.listdir(dist_packages) if d.endswith(".egg-info") or d.endswith(".dist-info")]
    if len(found) != 1:
        raise SystemExit(f"debian-wheels: expected one .egg-info in {dist_packages}, found {found}")
    return os.path.join(dist_packages, found[0])


def make_wheel(deb, out_dir, dists_by_package):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True)
        dist_packages = os.path.join(tmp, "usr/lib/python3/dist-packages")
        info = egg_info_dir(dist_packages)
        read = lambda name: open(os.path.join(info, name), encoding="utf-8").read() if os.path.exists(os.path.join(info, name)) else ""
        pkg_info = read("PKG-INFO") or read("METADATA")
        headers, _, body = pkg_info.partition("\n\n")
        name = re.search(r"^Name: (.+)$", headers, re.M).group(1).strip()
        version = re.search(r"^Version: (.+)$", headers, re.M).group(1).strip()
        requires = requires_dist(read("requires.txt")) + debian_requires(deb, dists_by_package)
        headers = "\n".join(l for l in headers.splitlines() if not l.startswith("Requires-Dist:"))
        metadata = headers + "".join(f"\nRequires-Dist: {r}" for r in requires) + "\n\n" + body

        top_level = [t for t in read("top_level.txt").split() if t]
        files = []
        for top in top_level:
            path = os.path.join(dist_packages, top)
            if os.path.isdir(path):
                for root, dirs, names in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                    files += [os.path.join(root, n) for n in names if not n.endswith(".pyc")]
            elif os.path.exists(path + ".py"):
                files.append(path + ".py")
        # Debian swaps bundled JavaScript for links into other packages (libjs-*): a link whose target
        # is not in this package is left out (only werkzeug's in-browser debugger reads it).
        files = [f for f in files if os.path.exists(resolve_in(tmp, f))]
        files.sort()
        extensions = [f for f in files if f.endswith(".so")]
        if extensions:
            # `_speedups.cpython-311-x86_64-linux-gnu.so` → cp311-cp311-linux_x86_64
            m = re.search(r"\.cpython-(\d+)-([a-z0-9_]+)-linux-gnu\.so$", extensions[0])
            tag = f"cp{m.group(1)}-cp{m.group(1)}-linux_{m.group(2)}"
        else:
            tag = "py3-none-any"

        dist = f"{normalize(name)}-{version}"
        info_dir = f"{dist}.dist-info"
        generated = {
            f"{info_dir}/METADATA": metadata,
            f"{info_dir}/WHEEL": f"Wheel-Version: 1.0\nGenerator: wharf debian-wheels.py\nRoot-Is-Purelib: {'false' if extensions else 'true'}\nTag: {tag}\n",
            f"{info_dir}/top_level.txt": "".join(f"{t}\n" for t in top_level),
        }
        if read("entry_points.txt").strip():
            generated[f"{info_dir}/entry_points.txt"] = read("entry_points.txt")

        wheel = os.path.join(out_dir, f"{dist}-{tag}.whl")
        record = []
        with zipfile.ZipFile(wheel + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
            def add(arcname, data, mode):
                entry = zipfile.ZipInfo(arcname, EPOCH)
                entry.external_attr = (0o100000 | mode) << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(entry, data)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                record.append(f"{arcname},sha256={digest},{len(data)}")

            for f in files:
                with open(resolve_in(tmp, f), "rb") as handle:
                    add(os.path.relpath(f, dist_packages), handle.read(), 0o755 if f.endswith(".so") else 0o644)
            for arcname, text in generated.items():
                add(arcname, text.encode(), 0o644)
            record.append(f"{info_dir}/RECORD,,")
            add_record = zipfile.ZipInfo(f"{info_dir}/RECORD", EPOCH)
            add_record.external_attr = 0o100644 << 16
            add_record.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(add_record, "\n".join(record) + "\n")
        os.replace(wheel + ".tmp", wheel)
        print(os.path.basename(wheel))


def main():
    if len(sys.argv) < 3:
        raise SystemExit("usage: debian-wheels.py OUT_DIR PKG.deb...")
    out_dir, debs = sys.argv[1], sys.argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    dists_by_package = {}
    for deb in debs:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True)
            info = egg_info_dir(os.path.join(tmp, "usr/lib/python3/dist-packages"))
            dists_by_package[deb_field(deb, "Package")] = normalize(os.path.basename(info).split("-")[0])
    for deb in debs:
        make_wheel(deb, out_dir, dists_by_package)


if __name__ == "__main__":
    main()
