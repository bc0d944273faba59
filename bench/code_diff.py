"""How long the version diff's code part takes on sizes that bound it (not part of `make
bench`'s ratios: run `python -m bench.code_diff`). Prints milliseconds per case."""

from __future__ import annotations

import io
import random
import time
import zipfile

from sandlot.services.code_diff import FILE_DIFF_MAX_BYTES, diff_code


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _lines(rng: random.Random, count: int) -> list[bytes]:
    return [b"value_%d = compute(%d)  # %x\n" % (n, rng.randrange(10**6), n) for n in range(count)]


def _cases() -> dict[str, tuple[bytes, bytes]]:
    rng = random.Random(11)
    small_old = {f"pkg/m{n}.py": b"".join(_lines(rng, 200)) for n in range(50)}
    small_new = dict(small_old)
    for n in range(0, 50, 10):  # one file in ten, a few lines each
        lines = small_old[f"pkg/m{n}.py"].splitlines(keepends=True)
        lines[5:8] = [b"changed()\n"] * 4
        small_new[f"pkg/m{n}.py"] = b"".join(lines)
    per_file = FILE_DIFF_MAX_BYTES // 40  # lines of ~40 bytes: files at the per-file bound
    worst_old = {f"w{n}.py": b"".join(_lines(rng, per_file)) for n in range(8)}
    worst_new = {f"w{n}.py": b"".join(_lines(rng, per_file)) for n in range(8)}
    blob = bytes(rng.randrange(256) for _ in range(1 << 20))
    big_old = {f"data/b{n}.bin": blob[n:] for n in range(40)}  # 40 MiB over the bound
    big_new = {**big_old, "data/b0.bin": blob[1:] + b"x"}
    return {
        "50 files, 5 changed a little": (_zip(small_new), _zip(small_old)),
        "8 files at the 256 KiB bound, every line changed": (_zip(worst_new), _zip(worst_old)),
        "40 files of 1 MiB (over the bound), one changed": (_zip(big_new), _zip(big_old)),
    }


def main() -> None:
    for label, (new, old) in _cases().items():
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            result = diff_code(new, old)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"{label}: best {min(timings):.0f} ms of 3, {result.diff_bytes} diff bytes, "
            f"truncated={result.truncated}"
        )


if __name__ == "__main__":
    main()
