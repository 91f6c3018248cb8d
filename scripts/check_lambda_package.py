"""Check what `sam build` produced before it reaches Lambda (`make build` runs this).

    python scripts/check_lambda_package.py [.aws-sam/build] [--python python3.12]

For every function, with the layers it uses (template.yaml after the build):
1. size: function + layers at most 250 MiB unzipped (Lambda's quota; scripts/check_lambda_sizes.py);
2. platform: every shipped `.so` is an ELF64 shared object for x86_64 (the template's
   Architectures). A build on macOS or ARM without `--platform` ships Mach-O or aarch64
   binaries that only fail when Lambda imports them;
3. links: every library a shipped `.so` needs (ELF DT_NEEDED) is shipped too, or is one of the
   system libraries the Lambda runtime provides (glibc, libstdc++, libgcc_s, zlib);
4. one SDK: no boto3 / botocore / s3transfer in a function or a layer (the runtime provides
   them; a second botocore shadows the runtime's and splits the SDK);
5. with `--python` (the runtime's python3.12): every package set holding pyarrow imports it
   from the built folders only (`-I -S`) and reads a Parquet file from bytes, as the offline
   store reader does.
Exit status 1 and one line per problem when anything fails.
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_lambda_sizes

from feecast_twin.intrinsics import load_yaml

EM_X86_64 = 62
SHT_DYNAMIC = 6
DT_NEEDED = 1
# Provided by the Lambda python3.12 runtime's base (Amazon Linux 2023); manylinux wheels may
# link these without shipping them (the manylinux2014 policy's system libraries).
SYSTEM_LIBRARIES = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "librt.so.1",
        "libpthread.so.0",
        "libutil.so.1",
        "libgcc_s.so.1",
        "libstdc++.so.6",
        "ld-linux-x86-64.so.2",
        "libz.so.1",
    }
)
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer")

PARQUET_SMOKE = """
import io, sys
sys.path[:0] = PATHS
import pyarrow as pa, pyarrow.parquet as pq
assert pa.__file__.startswith(tuple(PATHS)), pa.__file__
table = pa.table({"tx_minute": ["2026-01-05T10:00:00Z"],
                  "write_time": pa.array([0], type=pa.timestamp("ms", tz="UTC"))})
buffer = io.BytesIO(); pq.write_table(table, buffer)
rows = pq.read_table(io.BytesIO(buffer.getvalue())).to_pylist()
assert rows[0]["tx_minute"] == "2026-01-05T10:00:00Z", rows
print("PARQUET-OK", flush=True)
# pyarrow 20 can abort in its thread pools' teardown at interpreter exit ("terminate called
# without an active exception", upstream, with or without the stripping). Lambda freezes its
# processes instead of exiting them: skip the teardown, the read above is what is checked.
import os; os._exit(0)
"""


class ElfError(ValueError):
    """Not a shared object Lambda's x86_64 Linux can load."""


def elf_needed(path: Path) -> list[str]:
    """The DT_NEEDED entries of an ELF64 little-endian x86_64 file; ElfError otherwise."""
    with path.open("rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF":
            kind = "Mach-O" if header[:4] in (b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe") else "?"
            raise ElfError(f"not an ELF file (magic {header[:4].hex()}, {kind})")
        if header[4] != 2 or header[5] != 1:
            raise ElfError("not a 64-bit little-endian ELF")
        machine = struct.unpack_from("<H", header, 18)[0]
        if machine != EM_X86_64:
            raise ElfError(f"built for machine {machine} (x86_64 is {EM_X86_64}; aarch64 is 183)")
        shoff = struct.unpack_from("<Q", header, 0x28)[0]
        shentsize, shnum = struct.unpack_from("<HH", header, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        sections = [struct.unpack_from("<IIQQQQIIQQ", table, i * shentsize) for i in range(shnum)]
        needed: list[str] = []
        for _name, kind, _flags, _addr, offset, size, link, *_rest in sections:
            if kind != SHT_DYNAMIC:
                continue
            strtab = sections[link]
            f.seek(strtab[4])
            strings = f.read(strtab[5])
            f.seek(offset)
            dynamic = f.read(size)
            for i in range(0, len(dynamic) - 15, 16):
                tag, value = struct.unpack_from("<qQ", dynamic, i)
                if tag == 0:
                    break
                if tag == DT_NEEDED:
                    needed.append(strings[value : strings.index(b"\0", value)].decode())
        return needed


def _shared_objects(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".so" in p.name)


def _package_sets(build_dir: Path) -> dict[str, list[Path]]:
    """function logical id -> [its code folder, the python/ folder of each of its layers]."""
    template = load_yaml((build_dir / "template.yaml").read_text())
    resources: dict[str, Any] = template["Resources"]
    layers = {
        name: build_dir / res["Properties"]["ContentUri"]
        for name, res in resources.items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }
    default = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    sets = {}
    for name, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        refs = check_lambda_sizes.function_layers(default, res["Properties"].get("Layers", []))
        folders = [build_dir / res["Properties"]["CodeUri"]]
        folders += [layers[r] for r in refs if r in layers]
        sets[name] = folders
    return sets


def check_binaries(folders: list[Path]) -> list[str]:
    """Platform and link problems of the .so files of one function with its layers."""
    problems = []
    shipped = {so.name for folder in folders for so in _shared_objects(folder)}
    for folder in folders:
        for so in _shared_objects(folder):
            try:
                needed = elf_needed(so)
            except ElfError as exc:
                problems.append(f"{so.relative_to(folder.parent)}: {exc}")
                continue
            for library in needed:
                if library not in shipped and library not in SYSTEM_LIBRARIES:
                    problems.append(
                        f"{so.relative_to(folder.parent)} needs {library}, which is neither "
                        "shipped nor a Lambda system library"
                    )
    return problems


def check_one_sdk(folders: list[Path]) -> list[str]:
    problems = []
    for folder in folders:
        root = folder / "python" if (folder / "python").is_dir() else folder
        for package in RUNTIME_PACKAGES:
            if (root / package).exists():
                problems.append(
                    f"{root / package}: the runtime provides {package}; a second copy splits "
                    "the SDK (the runtime's boto3 would run on it)"
                )
    return problems


def parquet_smoke(python: str, folders: list[Path]) -> str | None:
    paths = [str((f / "python" if (f / "python").is_dir() else f).resolve()) for f in folders]
    code = f"PATHS = {json.dumps(paths)}\n{PARQUET_SMOKE}"
    # -B: no __pycache__ written into the build output.
    run = subprocess.run([python, "-B", "-I", "-S", "-c", code], capture_output=True, text=True)
    if run.returncode != 0 or "PARQUET-OK" not in run.stdout:
        return f"pyarrow does not read Parquet from {paths}: {run.stderr.strip()[-500:]}"
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir", nargs="?", default=".aws-sam/build", type=Path)
    parser.add_argument("--python", default=None, help="the runtime's python3.12 (smoke test)")
    args = parser.parse_args(argv)
    failed = check_lambda_sizes.main([str(args.build_dir)]) != 0
    problems: list[str] = []
    smoked: set[tuple[Path, ...]] = set()
    for _name, folders in sorted(_package_sets(args.build_dir).items()):
        problems += check_binaries(folders)
        problems += check_one_sdk(folders)
        has_pyarrow = any(
            (f / "python" / "pyarrow").is_dir() or (f / "pyarrow").is_dir() for f in folders
        )
        if args.python and has_pyarrow and tuple(folders) not in smoked:
            smoked.add(tuple(folders))
            problem = parquet_smoke(args.python, folders)
            if problem:
                problems.append(problem)
    for problem in sorted(set(problems)):
        print(f"PROBLEM {problem}")
    so_count = len(
        {
            so
            for fs in _package_sets(args.build_dir).values()
            for f in fs
            for so in _shared_objects(f)
        }
    )
    print(
        f"{so_count} shared objects checked (ELF x86_64, links resolved), one SDK"
        + (f", Parquet read in {len(smoked)} package set(s)" if args.python else "")
        + ("" if problems else ": OK")
    )
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
