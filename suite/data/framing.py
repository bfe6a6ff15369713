"""Events -> T frames by equal event count, exactly as the PLIF reference code frames them.

Fang et al. frame every event set with SpikingJelly's ``integrate_events_by_fixed_frames_number`` and
``split_by='number'``: with N events, frame ``j < T-1`` takes events ``[j*(N//T), (j+1)*(N//T))`` in file
order and the last frame takes the rest (so it holds the ``N % T`` remainder too, and when ``N < T`` every
event lands in the last frame). A frame is the per-polarity, per-pixel event count: ``frames[j, p, y, x]``,
channel 0 = OFF, 1 = ON. The frames therefore sum to N: no event is dropped. (tonic's
``ToFrame(n_event_bins=T)`` drops the remainder instead, so its frames differ in the last one.)

One ``np.bincount`` over a flat index does the whole recording: no Python loop over frames or events.
"""

from __future__ import annotations

import numpy as np

from suite.data.aedat import Events

SETTINGS = "count-split (SpikingJelly split_by='number'), per-pixel per-polarity counts, v1"


def frames_by_count(ev: Events, T: int, height: int, width: int) -> np.ndarray:
    """``[T, 2, height, width]`` int64 event counts; raises ValueError on events outside the sensor."""
    n = len(ev.x)
    if n == 0:
        return np.zeros((T, 2, height, width), dtype=np.int64)
    x, y, p = (np.asarray(a, dtype=np.int64) for a in (ev.x, ev.y, ev.p))
    bad = (x < 0) | (x >= width) | (y < 0) | (y >= height) | ((p != 0) & (p != 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"event {i} at x={x[i]}, y={y[i]}, p={p[i]} is outside the {width}x{height} sensor "
            f"with polarities 0/1 ({int(bad.sum())} such events of {n})"
        )
    per_frame = n // T
    if per_frame:
        frame = np.minimum(np.arange(n, dtype=np.int64) // per_frame, T - 1)
    else:
        frame = np.full(n, T - 1, dtype=np.int64)
    flat = ((frame * 2 + p) * height + y) * width + x
    return np.bincount(flat, minlength=T * 2 * height * width).reshape(T, 2, height, width)
