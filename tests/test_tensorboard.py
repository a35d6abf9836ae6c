"""mlpc's own TensorBoard event files, read back by the tensorboard package's EventAccumulator:
the scalars and histograms arrive intact (to float32 for scalars, exactly for histograms)."""
import numpy as np
import pytest

import mlpc
from mlpc.tensorboard import EventWriter, crc32c

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator")


def read(logdir):
    acc = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={event_accumulator.SCALARS: 0,
                                    event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    return acc


def test_crc32c_check_value():
    assert crc32c(b"123456789") == 0xE3069283          # the CRC-32C catalogue's check value
    assert crc32c(b"") == 0


def test_event_writer_scalars_and_histograms_read_back(tmp_path):
    rng = np.random.default_rng()
    values = rng.standard_normal(5)
    limits = np.sort(rng.standard_normal(6))
    bucket = rng.integers(0, 100, 6).astype(float)
    with EventWriter(tmp_path) as w:
        for step, v in enumerate(values):
            w.scalar("a/b", v, step * 7)
        w.histogram("h", 3, min=-1.5, max=2.5, num=bucket.sum(), sum=4.25, sum_squares=9.5,
                    bucket_limit=limits, bucket=bucket)
        with pytest.raises(ValueError, match="bucket limits"):
            w.histogram("h", 3, 0, 0, 0, 0, 0, limits, bucket[:2])
    acc = read(tmp_path)
    got = acc.Scalars("a/b")
    assert [e.step for e in got] == [0, 7, 14, 21, 28]
    np.testing.assert_array_equal([e.value for e in got], values.astype(np.float32))
    (h,) = acc.Histograms("h")
    hv = h.histogram_value
    assert h.step == 3 and (hv.min, hv.max, hv.num, hv.sum, hv.sum_squares) == \
        (-1.5, 2.5, bucket.sum(), 4.25, 9.5)
    np.testing.assert_array_equal(hv.bucket_limit, limits)
    np.testing.assert_array_equal(hv.bucket, bucket)


def test_fit_callback_and_to_tensorboard_write_the_recorded_run(tmp_path):
    rng = np.random.default_rng()
    X, y = rng.standard_normal((60, 5)), rng.integers(0, 3, 60)
    net = mlpc.Sequential(mlpc.Linear(5, 8), mlpc.Tanh(), mlpc.Linear(8, 3))
    rec = mlpc.Recorder(what="all", range=(-1, 1), bins=8, steps=(0, 2, 5), keep_values=True)
    h = mlpc.fit(net, mlpc.SoftmaxCrossEntropy(), mlpc.Adam(net, 0.01), X, y, epochs=2,
                 batch_size=20, callbacks=[mlpc.TensorBoard(tmp_path / "fit", rec), rec],
                 validation_data=(X[:10], y[:10]), progress=False)
    path = rec.to_tensorboard(tmp_path / "rec")
    assert path.startswith(str(tmp_path / "rec")) and "tfevents" in path
    for acc in (read(tmp_path / "rec"), read(tmp_path / "fit")):
        tags = acc.Tags()
        for name in ("0", "1", "2"):
            std = [e.value for e in acc.Scalars(f"output_std/{name}")]
            np.testing.assert_allclose(std, rec.moments(name, "output")["std"], rtol=1e-7)
        for name in ("0.weight", "2.bias"):
            got = [e.value for e in acc.Scalars(f"update_to_data/{name}")]
            np.testing.assert_allclose(got, rec.ratio(name, "update"), rtol=1e-7)
        sat = [e.value for e in acc.Scalars("output_saturation/1")]
        np.testing.assert_allclose(sat, rec.moments("1")["saturation"], rtol=1e-7)
        assert "histograms" in tags and "update/0.weight" not in tags["histograms"]
        for i, event in enumerate(acc.Histograms("output/1")):
            hv = event.histogram_value
            x = rec.values("1", "output", index=i).astype(np.float64).ravel()
            assert event.step == rec.recorded_steps[i]
            assert hv.num == x.size and sum(hv.bucket) == x.size
            assert (hv.min, hv.max) == (x.min(), x.max())
            assert hv.sum == pytest.approx(x.sum(), abs=1e-6 * np.abs(x).sum() + 1e-12)
            assert hv.sum_squares == pytest.approx(np.sum(x * x), rel=1e-6)
            np.testing.assert_array_equal(hv.bucket_limit[:-1], np.linspace(-1, 1, 9))
            assert hv.bucket[0] == np.sum(x < -1) and hv.bucket[-1] == np.sum(x > 1)
            inside = x[(x >= -1) & (x <= 1)]
            np.testing.assert_array_equal(hv.bucket[1:-1], np.histogram(inside, 8, (-1, 1))[0])
    acc = read(tmp_path / "fit")
    np.testing.assert_allclose([e.value for e in acc.Scalars("step/cost")], h["step_cost"],
                               rtol=1e-7)
    assert [e.step for e in acc.Scalars("step/lr")] == list(range(6))
    np.testing.assert_allclose([e.value for e in acc.Scalars("epoch/val_accuracy")],
                               h["val_accuracy"], rtol=1e-7)
    assert [e.step for e in acc.Scalars("epoch/train_cost")] == [3, 6]
    with pytest.raises(TypeError, match="Recorder"):
        mlpc.TensorBoard(tmp_path, recorder="rec")


def test_crc32c_takes_bytes_like_objects_only():
    rng = np.random.default_rng()
    data = rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes()
    assert crc32c(bytearray(data)) == crc32c(memoryview(data)) == crc32c(data)
    table = []                                 # an independent table-driven CRC-32C
    for byte in range(256):
        c = byte
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    c = 0xFFFFFFFF
    for byte in data:
        c = table[(c ^ byte) & 0xFF] ^ (c >> 8)
    assert crc32c(data) == c ^ 0xFFFFFFFF
    with pytest.raises(TypeError):
        crc32c("text")
