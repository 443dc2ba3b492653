"""The random streams of a run: seeded from one integer, owned by the trainer, checkpointed.

A run draws randomness from two kinds of place. The trainer's own ``torch.Generator``
orders the data (shuffling). Everything else — dropout, noise added in a loss, ``random``
or ``numpy.random`` in user code — draws from the process-global generators. So that a
seeded run repeats bit for bit and a resumed run continues exactly, without seeding or
disturbing the caller's global state, the trainer keeps a private copy of each global
state (the *ambient* states) and swaps it in only while it trains
(:meth:`RandomStreams.swapped_in`), as ``torch.random.fork_rng`` does for torch alone.

All streams come from one seed through :class:`numpy.random.SeedSequence`, which gives
independent, well-mixed child seeds (O'Neill 2015; numpy's "parallel random number
generation" notes). The data-order seed is the same on every process, so that
distributed ranks agree on a permutation; the ambient seeds also depend on the rank.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any, cast, final

import numpy as np
import torch
from torch import Tensor

from neurosym.errors import ConfigurationError

__all__ = ["RandomStreams"]

# The shape of numpy's legacy MT19937 state, as ``np.random.get_state()`` returns it.
_NumpyState = tuple[str, "np.ndarray[Any, np.dtype[np.uint32]]", int, int, float]


@final
class RandomStreams:
    """The data-order generator and the ambient global states of one process of a run.

    Args:
        seed: the run's seed (a non-negative integer).
        rank: this process's rank (0 when not distributed).
        device: the training device; for CUDA its generator is an ambient state too.
    """

    def __init__(self, seed: int, *, rank: int, device: torch.device) -> None:
        data_seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
        ambient = np.random.SeedSequence(seed, spawn_key=(rank,)).generate_state(3)
        torch_seed, python_seed, numpy_seed = (int(s) for s in ambient)
        self.data_seed = data_seed
        self.generator = torch.Generator().manual_seed(data_seed)
        self._device = device
        self._torch = torch.Generator().manual_seed(torch_seed).get_state()
        self._cuda: Tensor | None = None
        if device.type == "cuda":
            self._cuda = torch.Generator(device=device).manual_seed(torch_seed).get_state()
        self._python = random.Random(python_seed).getstate()
        self._numpy = cast(_NumpyState, np.random.RandomState(numpy_seed).get_state())
        self._live = False

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        """Make the ambient states the global ones for the duration; restore the caller's.

        On exit the ambient states are captured (they advanced while training) and the
        caller's global states are put back exactly as they were.
        """
        if self._live:
            raise RuntimeError("the random streams are already swapped in (a bug in Trainer)")
        saved_torch = torch.get_rng_state()
        saved_python = random.getstate()
        saved_numpy = np.random.get_state()
        saved_cuda = torch.cuda.get_rng_state(self._device) if self._cuda is not None else None
        self._put_global()
        self._live = True
        try:
            yield
        finally:
            self._take_global()
            self._live = False
            torch.set_rng_state(saved_torch)
            random.setstate(saved_python)
            np.random.set_state(saved_numpy)
            if saved_cuda is not None:
                torch.cuda.set_rng_state(saved_cuda, self._device)

    def _put_global(self) -> None:
        torch.set_rng_state(self._torch)
        random.setstate(self._python)
        np.random.set_state(self._numpy)
        if self._cuda is not None:
            torch.cuda.set_rng_state(self._cuda, self._device)

    def _take_global(self) -> None:
        self._torch = torch.get_rng_state()
        self._python = random.getstate()
        self._numpy = cast(_NumpyState, np.random.get_state())
        if self._cuda is not None:
            self._cuda = torch.cuda.get_rng_state(self._device)

    def state_dict(self) -> dict[str, Any]:
        """Every stream as tensors and plain containers (loadable with ``weights_only``)."""
        if self._live:
            self._take_global()
        version, internal, gauss = self._python
        _, keys, pos, has_gauss, cached = self._numpy
        return {
            "data": self.generator.get_state(),
            "torch": self._torch.clone(),
            "cuda": None if self._cuda is None else self._cuda.clone(),
            "python": {"version": version, "state": list(internal), "gauss": gauss},
            "numpy": {
                "keys": torch.from_numpy(keys.astype(np.int64)),
                "pos": int(pos),
                "has_gauss": int(has_gauss),
                "cached_gaussian": float(cached),
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the streams from :meth:`state_dict` (live ones take effect at once).

        Raises:
            ConfigurationError: if ``state`` does not have the expected layout.
        """
        try:
            data = state["data"]
            torch_state = state["torch"]
            python = state["python"]
            numpy_state = state["numpy"]
            self.generator.set_state(data)
            self._torch = torch_state.clone()
            self._python = (
                int(python["version"]),
                tuple(int(x) for x in python["state"]),
                python["gauss"],
            )
            self._numpy = (
                "MT19937",
                numpy_state["keys"].numpy().astype(np.uint32),
                int(numpy_state["pos"]),
                int(numpy_state["has_gauss"]),
                float(numpy_state["cached_gaussian"]),
            )
        except (KeyError, TypeError, AttributeError, RuntimeError) as e:
            raise ConfigurationError(
                f"the checkpoint's random states are damaged or of another layout: {e!r}"
            ) from e
        cuda = state.get("cuda")
        if self._cuda is not None:
            if cuda is None:
                raise ConfigurationError(
                    "the checkpoint was written by a run on the CPU and has no CUDA random "
                    f"state; resume on device={str(self._device)!r} cannot continue exactly"
                )
            self._cuda = cuda.clone()
        if self._live:
            self._put_global()
