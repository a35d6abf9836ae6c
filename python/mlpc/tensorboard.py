"""TensorBoard event files written by mlpc itself (no TensorFlow, no new dependency).

    rec = mlpc.Recorder(what="all", range=(-3, 3))
    mlpc.fit(net, loss_fn, opt, X, y, epochs=3, callbacks=[rec, mlpc.TensorBoard("runs/a", rec)])
    # or, after any recorded run:  rec.to_tensorboard("runs/a")
    # then:  tensorboard --logdir runs

The format, as TensorBoard reads it:
  file    logdir/events.out.tfevents.<seconds>.<host>.<pid>.<n>.mlpc, a sequence of records;
  record  uint64 length, uint32 masked CRC-32C of those 8 bytes, the data, uint32 masked CRC-32C
          of the data (little-endian; mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 mod 2³²;
          the CRC itself by the core, csrc/core/crc32c.c);
  data    an Event protocol buffer: wall_time (1, double), step (2, int64), file_version
          (3, string: "brain.Event:2" in the first record) or summary (5): a Summary with
          Values of tag (1, string) and simple_value (2, float) for scalars or histo (5,
          HistogramProto: min 1, max 2, num 3, sum 4, sum_squares 5, bucket_limit 6 and
          bucket 7 as packed doubles) for histograms.
Histogram buckets follow TensorBoard's convention: bucket i counts the values up to
bucket_limit[i] (above the limit before). The recorder's bins become buckets with their right
edges as limits, after a first bucket of the values below the range (limit: the range's lower
edge) and before a last one of those above it (limit: the largest double), so the buckets add
up to num, the tensor's size. (The recorder's bins include their left edge, TensorBoard's their
right: a value exactly on an inner edge is counted one bucket lower by TensorBoard's reading.)
"""
import os
import socket
import struct
import time
from typing import Any, Optional

import numpy as np

from . import _core
from .training import Callback

__all__ = ["EventWriter", "TensorBoard", "write_snapshots"]


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of bytes, as TFRecord frames use it (computed by the core)."""
    return _core.crc32c(data)


def _masked_crc(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# -- protocol buffer encoding: only the wire types these messages use --------------------------
def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1                     # int64: negative numbers as ten-byte two's complement
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field, wire):
    return _varint(field << 3 | wire)


def _double(field, value):
    return _key(field, 1) + struct.pack("<d", value)


def _float(field, value):
    return _key(field, 5) + struct.pack("<f", value)


def _bytes(field, data):
    return _key(field, 2) + _varint(len(data)) + data


def _packed_doubles(field, values):
    return _bytes(field, np.asarray(values, dtype="<f8").tobytes())


def _event(step, wall_time, summary=None, file_version=None):
    data = _double(1, wall_time) + _key(2, 0) + _varint(int(step))
    if file_version is not None:
        data += _bytes(3, file_version.encode())
    if summary is not None:
        data += _bytes(5, summary)
    return data


class EventWriter:
    """One event file in `logdir` (made if missing): scalar(), histogram(), flush(), close().
    Usable as a context manager. `path` is the file written."""

    _count = 0

    def __init__(self, logdir: Any) -> None:
        logdir = os.fspath(logdir)
        os.makedirs(logdir, exist_ok=True)
        EventWriter._count += 1      # two writers in one second must not share a file name
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{EventWriter._count}.mlpc")
        self.path = os.path.join(logdir, name)
        self._file = open(self.path, "wb")
        self._write(_event(0, time.time(), file_version="brain.Event:2"))

    def _write(self, data):
        header = struct.pack("<Q", len(data))
        self._file.write(header + struct.pack("<I", _masked_crc(header)) + data +
                         struct.pack("<I", _masked_crc(data)))

    def scalar(self, tag: str, value: float, step: int,
               wall_time: Optional[float] = None) -> None:
        value = _bytes(1, str(tag).encode()) + _float(2, float(value))
        self._write(_event(step, time.time() if wall_time is None else wall_time,
                           summary=_bytes(1, value)))

    def histogram(self, tag: str, step: int, min: float, max: float, num: float, sum: float,
                  sum_squares: float, bucket_limit: Any, bucket: Any,
                  wall_time: Optional[float] = None) -> None:
        """A HistogramProto: bucket[i] counts the values in (bucket_limit[i-1], bucket_limit[i]]."""
        if len(bucket_limit) != len(bucket):
            raise ValueError(f"histogram: {len(bucket_limit)} bucket limits for "
                             f"{len(bucket)} buckets")
        histo = (_double(1, min) + _double(2, max) + _double(3, num) + _double(4, sum) +
                 _double(5, sum_squares) + _packed_doubles(6, bucket_limit) +
                 _packed_doubles(7, bucket))
        value = _bytes(1, str(tag).encode()) + _bytes(5, histo)
        self._write(_event(step, time.time() if wall_time is None else wall_time,
                           summary=_bytes(1, value)))

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_snapshots(writer: EventWriter, recorder: Any, start: int = 0) -> int:
    """Write the recorder's snapshots from index `start` on: per recorded key the std (and for
    layer outputs the saturation and zero fractions), per parameter the gradient:data and
    update:data ratios (when recorded), and a histogram per key that has a range. Returns the
    number of snapshots written."""
    S = len(recorder.recorded_steps)
    if start >= S:
        return 0
    rows = recorder._rows(start, S)                 # key -> (moments, counts or None)
    std = {key: m[:, recorder.STATS.index("std")] for key, (m, _) in rows.items()}
    ratios = {}
    for name in recorder.parameter_names():
        for q in ("grad", "update"):
            if (name, q) in std and (name, "param") in std:
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratios[f"{q}_to_data/{name}"] = std[(name, q)] / std[(name, "param")]
    col = {stat: recorder.STATS.index(stat) for stat in recorder.STATS}
    for i in range(S - start):
        step = recorder.recorded_steps[start + i]
        for (name, q), (m, c) in rows.items():
            writer.scalar(f"{q}_std/{name}", m[i, col["std"]], step)
            if q == "output":
                writer.scalar(f"output_saturation/{name}", m[i, col["saturation"]], step)
                writer.scalar(f"output_zero_fraction/{name}", m[i, col["zero_fraction"]], step)
            if c is None or not np.isfinite(m[i, col["mean"]]):
                continue
            num = float(c[i].sum())                 # under- and overflow included
            writer.histogram(f"{q}/{name}", step, min=m[i, col["min"]], max=m[i, col["max"]],
                             num=num, sum=m[i, col["mean"]] * num,
                             sum_squares=m[i, col["norm"]] ** 2,
                             bucket_limit=np.concatenate([recorder.edges(name, q),
                                                          [np.finfo(np.float64).max]]),
                             bucket=c[i].astype(np.float64))
        for tag, series in ratios.items():
            writer.scalar(tag, series[i], step)
    writer.flush()
    return S - start


class TensorBoard(Callback):
    """fit callback: TensorBoard(logdir, recorder=None) writes per step cost, lr and grad_norm
    ("step/cost", ...), per epoch the epoch's logs ("epoch/train_cost", "epoch/val_accuracy",
    ...; at the step count reached), and, given the Recorder of the same fit, its snapshots
    (write_snapshots) as they are taken. One event file per fit, in logdir."""

    def __init__(self, logdir: Any, recorder: Any = None) -> None:
        from .recorder import Recorder
        if recorder is not None and not isinstance(recorder, Recorder):
            raise TypeError(f"TensorBoard: recorder must be a mlpc.Recorder, got "
                            f"{type(recorder).__name__}")
        self.logdir = os.fspath(logdir)
        self.recorder = recorder
        self.writer = None

    def on_train_begin(self, fit):
        self.close()
        self.writer = EventWriter(self.logdir)
        self._written = len(self.recorder.recorded_steps) if self.recorder is not None else 0
        self._step = 0

    def on_step_end(self, step, info):
        for key in ("cost", "lr", "grad_norm"):
            self.writer.scalar(f"step/{key}", info[key], step)
        self._step = step + 1
        self._write_recorded()

    def on_epoch_end(self, epoch, logs):
        for key, value in logs.items():
            if key != "epoch" and value is not None:
                self.writer.scalar(f"epoch/{key}", value, self._step)
        self.writer.flush()

    def on_train_end(self, fit):
        self._write_recorded()
        self.close()

    def _write_recorded(self):
        if self.recorder is not None:
            self._written += write_snapshots(self.writer, self.recorder, self._written)

    def close(self):
        if self.writer is not None:
            self.writer.close()

    def __repr__(self):
        return f"TensorBoard({self.logdir!r}, recorder={self.recorder!r})"
