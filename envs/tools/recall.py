"""How many of the per-frame detector's contacts does the per-step detector find?

Records a game's emulator RAM on every frame under a contact-seeking scripted
policy, then replays the same RAM through both detectors:

* per frame: :class:`~envs.objects.ObjectExtractor` and
  :class:`~envs.interactions.InteractionDetector` on every frame (what
  :class:`~envs.wrappers.ObjectTracker` does beneath frame skipping);
* per step: :func:`envs.fast.batched.make_extractor` and
  :class:`~envs.fast.swept.SweptDetector` on every ``frame_skip``-th frame only (what
  the envpool fast path sees: RAM after each agent step, none after reset).

A per-frame contact is *found* when the per-step detector reports the same
object (identified by its box on the frames both extractors see) in the agent
step containing the contact's frame, give or take ``tolerance`` frames.
Per-step events that match no per-frame contact are *extra*.

Example:
    >>> from envs.tools.recall import compare, record
    >>> rec = record("Freeway", 400, seed=0)
    >>> result = compare(rec)
    >>> result.contacts > 0 and result.recall >= 0.9
    True
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from envs.derived import Deriver
from envs.fast.batched import make_extractor
from envs.fast.swept import MAX_JUMP, StepPassDetector, SweptDetector
from envs.games import GameSpec, resolve_game
from envs.interactions import InteractionDetector, InteractionEvent
from envs.objects import ObjectExtractor, ObjectFrame, ObjectRecord

#: ``policy(frame_objects, ram, action_meanings, rng) -> action index``, called once per agent step.
Policy = Callable[[ObjectFrame, np.ndarray, list[str], np.random.Generator], int]


def _first(frame: ObjectFrame, category: str) -> np.ndarray | None:
    idx = frame.of_category(category)
    return frame.box[idx[0]] if len(idx) else None


def _track_ball(axis: int) -> Policy:
    """Move the paddle towards the ball along ``axis`` (0: Breakout's x, 1: Pong's y)."""

    def policy(frame: ObjectFrame, ram: np.ndarray, meanings: list[str],
               rng: np.random.Generator) -> int:
        p, b = _first(frame, "Player"), _first(frame, "Ball")
        if p is None or b is None:
            return meanings.index("FIRE")
        d = (b[axis] + b[axis + 2] / 2) - (p[axis] + p[axis + 2] / 2)
        if axis == 1:  # Pong: RIGHT moves the right paddle up, LEFT down
            return meanings.index("LEFT") if d > 2 else meanings.index("RIGHT") if d < -2 else 0
        return meanings.index("RIGHT") if d > 3 else meanings.index("LEFT") if d < -3 else 0

    return policy


class _HeldRandom:
    """Random actions, each held for 2 to 11 steps (Skiing: weaves into trees, flags, moguls)."""

    def __init__(self) -> None:
        self.action, self.left = 0, 0

    def __call__(self, frame: ObjectFrame, ram: np.ndarray, meanings: list[str],
                 rng: np.random.Generator) -> int:
        if self.left <= 0:
            self.action, self.left = int(rng.integers(len(meanings))), int(rng.integers(2, 12))
        self.left -= 1
        return self.action


def _always(action: str) -> Policy:
    return lambda frame, ram, meanings, rng: meanings.index(action)


def _uniform(frame: ObjectFrame, ram: np.ndarray, meanings: list[str],
             rng: np.random.Generator) -> int:
    return int(rng.integers(len(meanings)))


def seek_gate(objects: Iterable[ObjectRecord], orientation: int) -> int:
    """Skiing action (0 NOOP, 1 RIGHT, 2 LEFT) that steers towards the next gate below the skier.

    Args:
        objects: The frame's objects, derived ``Gate`` s included.
        orientation: RAM byte 15, the skier's heading: 8 straight down, lower
            to the left, one step per turn.
    """
    objects = list(objects)
    skier = next((o for o in objects if o.category == "Player"), None)
    ahead = sorted((o for o in objects if o.category == "Gate" and skier and o.y >= skier.y),
                   key=lambda o: o.y)
    target = ahead[0].x + ahead[0].w / 2 if ahead else 80
    here = skier.x + skier.w / 2 if skier else 80
    want = 8 + int(np.clip(round((target - here) / 4), -3, 3))
    return 1 if orientation < want else 2 if orientation > want else 0


class GateSeeker:
    """Skiing policy: :func:`seek_gate` on the objects with their gates (few gates missed)."""

    def __init__(self) -> None:
        self._deriver = Deriver("Skiing")

    def __call__(self, frame: ObjectFrame, ram: np.ndarray, meanings: list[str],
                 rng: np.random.Generator) -> int:
        return seek_gate(self._deriver.apply(frame).records(), int(ram[15]))


#: Scripted policies that produce many contacts: game -> factory of a fresh policy.
CONTACT_POLICIES: dict[str, Callable[[], Policy]] = {
    "Pong": lambda: _track_ball(1),
    "Breakout": lambda: _track_ball(0),
    "Freeway": lambda: _always("UP"),
    "Skiing": _HeldRandom,
}


@dataclass
class Recording:
    """Emulator RAM of every frame of a scripted run.

    Attributes:
        game: The game's spec.
        frame_skip: Emulator frames per agent step of the policy.
        rams: ``(F, 128)`` uint8: RAM after each reset and after every frame.
        episode: ``(F,)`` episode index of each row.
        frame: ``(F,)`` frame within the episode (0 = the reset).
        complete: Episodes ``0 .. complete - 1`` ran to their end (game over or
            the episode limit); a later one was cut off by the frame budget.
    """

    game: GameSpec
    frame_skip: int
    rams: np.ndarray
    episode: np.ndarray
    frame: np.ndarray
    complete: int = 0


def record(game: str | GameSpec, frames: int, *, policy: Policy | None = None, seed: int = 0,
           frame_skip: int = 4, sticky_actions: float = 0.25,
           episodes: int | None = None) -> Recording:
    """Play ``frames`` emulator frames (restarting finished episodes) and keep every RAM.

    Args:
        game: The game.
        frames: Emulator frames to play (at most, with ``episodes``).
        policy: Chooses each agent step's action; defaults to a fresh policy
            from :data:`CONTACT_POLICIES` (uniformly random actions for other games).
        seed: Seed of the emulator and the policy.
        frame_skip: Frames per agent step (the action is repeated).
        sticky_actions: ALE's repeat-action probability per frame.
        episodes: Stop as soon as this many episodes have ended.
    """
    import ale_py  # noqa: F401  (registers ALE/... ids)
    import gymnasium as gym

    spec = game if isinstance(game, GameSpec) else resolve_game(game)
    if not isinstance(frames, int) or frames < 1:
        raise ValueError(f"frames must be an int >= 1, got {frames!r}")
    if episodes is not None and (not isinstance(episodes, int) or episodes < 1):
        raise ValueError(f"episodes must be None or an int >= 1, got {episodes!r}")
    policy = policy or CONTACT_POLICIES.get(spec.name, lambda: _uniform)()
    env = gym.make(spec.ale_id, frameskip=1, repeat_action_probability=sticky_actions)
    ale = env.unwrapped.ale
    meanings = env.unwrapped.get_action_meanings()
    rng = np.random.default_rng(seed)
    eyes = ObjectExtractor(spec)  # the policy's view, updated on every frame
    env.reset(seed=seed)
    rams, episode, frame = [ale.getRAM().copy()], [0], [0]
    objects = eyes.update(rams[0])[0]
    ep, t, action = 0, 0, 0
    for _ in range(frames):
        if t % frame_skip == 0:
            action = policy(objects, rams[-1], meanings, rng)
        _, _, terminated, truncated, _ = env.step(action)
        t += 1
        rams.append(ale.getRAM().copy())
        episode.append(ep)
        frame.append(t)
        objects = eyes.update(rams[-1])[0]
        if terminated or truncated:
            if episodes is not None and ep + 1 >= episodes:
                ep += 1
                break
            env.reset()
            eyes.reset()
            ep, t = ep + 1, 0
            rams.append(ale.getRAM().copy())
            episode.append(ep)
            frame.append(0)
            objects = eyes.update(rams[-1])[0]
    env.close()
    return Recording(spec, frame_skip, np.stack(rams), np.array(episode), np.array(frame), ep)


@dataclass(frozen=True)
class RecallResult:
    """Per-step detection measured against the per-frame detector on one recording.

    A *contact* is a per-frame start-of-contact event, except that a re-contact
    of the same object at most ``frame_skip`` frames after its previous contact
    ended counts as part of that contact: a ball that separates from a moving
    paddle for a frame or two and touches it again is one hit, and snapshots
    taken once per step cannot tell the two apart.

    Attributes:
        game: Game name.
        frames: Emulator frames replayed.
        contacts: Per-frame contacts (after the reset frame, re-contacts merged).
        found: Of those, found by the per-step detector.
        extra: Per-step events that match no per-frame event.
        events: Per-frame events before merging.
        events_found: Of those, matched one-to-one by a per-step event.
        per_category: Category -> ``(contacts, found, extra)``.
    """

    game: str
    frames: int
    contacts: int
    found: int
    extra: int
    events: int
    events_found: int
    per_category: dict[str, tuple[int, int, int]]

    @property
    def recall(self) -> float:
        """Share of the per-frame contacts found (1.0 when there are none)."""
        return self.found / self.contacts if self.contacts else 1.0


def compare(rec: Recording, *, margin: int | None = None, tolerance: int | None = None,
            max_jump: int | None = None) -> RecallResult:
    """Replay ``rec`` through both detectors and match their events.

    A per-step event matches a per-frame event of the same category when the
    per-frame event's frame lies in the event's agent step (widened by
    ``tolerance`` frames) and the event's object box is the per-frame object's
    box on a frame both extractors saw (the ends of the steps around the
    contact).  Instance ids of the two extractors are not compared: the
    per-frame one renews an id whenever an object flickers for a frame.

    Args:
        rec: A :func:`record` ing.
        margin: Contact margin for both detectors (default: the game's).
        tolerance: Frames by which a per-step event may lie outside the step
            of the per-frame event (default: ``frame_skip``).
        max_jump: Passed to :class:`~envs.fast.swept.SweptDetector`.
    """
    spec, fs = rec.game, rec.frame_skip
    tol = fs if tolerance is None else tolerance
    # Per frame: every row; events after the reset frame (the reset's are never paid).
    extractor = ObjectExtractor(spec)
    detector = InteractionDetector(spec, margin)
    frame_events: list[tuple[int, InteractionEvent]] = []
    contact_of: list[int] = []  # per-frame event -> index of the contact it belongs to
    last_touch: dict[int, tuple[int, int]] = {}  # instance -> (last frame touching, contact)
    n_contacts = 0
    # Per-frame instance -> box, on the frames the per-step detector sees.
    shared: dict[tuple[int, int], dict[int, tuple[int, ...]]] = {}
    for row in range(len(rec.rams)):
        ep, f = int(rec.episode[row]), int(rec.frame[row])
        if f == 0:
            extractor.reset()
            detector.reset()
            last_touch = {}
        objs = extractor.update(rec.rams[row])[0]
        for ev in detector.update(objs, f):
            if f == 0:
                continue
            before = last_touch.get(ev.instance)
            if before is not None and f - before[0] <= fs + 1:
                contact_of.append(before[1])
            else:
                contact_of.append(n_contacts)
                n_contacts += 1
            frame_events.append((ep, ev))
            last_touch[ev.instance] = (f, contact_of[-1])
        for inst in detector.touching:
            if inst in last_touch:
                last_touch[inst] = (f, last_touch[inst][1])
        if f % fs == 0:
            shared[ep, f] = {int(i): tuple(int(v) for v in b) for i, b in zip(objs.instance, objs.box)}

    # Per step: RAM after every agent step (not after reset), as envpool returns it.
    step_extractor = make_extractor(spec, 1)
    swept = SweptDetector(spec, 1, margin=margin, frame_skip=fs,
                          max_jump=MAX_JUMP if max_jump is None else max_jump)
    step_events: list[tuple[int, InteractionEvent]] = []
    for row in range(len(rec.rams)):
        ep, f = int(rec.episode[row]), int(rec.frame[row])
        if f == 0:
            step_extractor.reset()
            swept.reset()
        elif f % fs == 0:
            batch = step_extractor.update(rec.rams[row][None])
            step_events.extend((ep, ev) for ev in swept.update(batch, np.array([f // fs]))[0])

    def boxes(ep: int, ev: InteractionEvent) -> set[tuple[int, ...]]:
        """The per-frame object's boxes at the ends of the steps around its contact."""
        before = (ev.frame - 1) // fs * fs
        return {b for f in (before, before + fs) if (b := shared.get((ep, f), {}).get(ev.instance))}

    # Greedy one-to-one matching in time order.
    by_category: dict[tuple[int, str], list[int]] = defaultdict(list)
    for k, (ep, ev) in enumerate(frame_events):
        by_category[ep, ev.category].append(k)
    frame_boxes = [boxes(ep, ev) for ep, ev in frame_events]
    matched = np.zeros(len(frame_events), bool)
    extra: dict[str, int] = defaultdict(int)
    for ep, ev in step_events:
        lo, hi = (ev.step - 1) * fs + 1 - tol, ev.step * fs + tol
        window = [k for k in by_category[ep, ev.category]
                  if not matched[k] and lo <= frame_events[k][1].frame <= hi]
        # The same object if the per-frame one is seen on a shared frame; otherwise
        # (it flickered) any event of the category in the window.
        hit = next((k for k in window if ev.object_box in frame_boxes[k]),
                   next((k for k in window if not frame_boxes[k]), None))
        if hit is None:
            extra[ev.category] += 1
        else:
            matched[hit] = True

    contact_found = np.zeros(n_contacts, bool)
    contact_cat = [""] * n_contacts
    for k, (_, ev) in enumerate(frame_events):
        contact_found[contact_of[k]] |= matched[k]
        contact_cat[contact_of[k]] = ev.category
    per_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c, ok in zip(contact_cat, contact_found):
        per_cat[c][0] += 1
        per_cat[c][1] += int(ok)
    for c, v in extra.items():
        per_cat[c][2] += v
    return RecallResult(spec.name, int((rec.frame > 0).sum()), n_contacts,
                        int(contact_found.sum()), sum(extra.values()), len(frame_events),
                        int(matched.sum()), {c: tuple(v) for c, v in sorted(per_cat.items())})


def _bcd(value: int) -> int:
    return (int(value) >> 4) * 10 + (int(value) & 15)


#: Games that count missed passable objects in RAM: name -> (final RAM -> objects missed).
#: Skiing: byte 0xEB holds the gates still to come (BCD), what is left at the end is missed.
MISSED_IN_RAM: dict[str, Callable[[np.ndarray], int]] = {"Skiing": lambda ram: _bcd(ram[107])}


@dataclass(frozen=True)
class PassCounts:
    """``pass`` / ``miss`` events of one recorded episode on both paths.

    Attributes:
        episode: Episode index in the recording.
        frames: Emulator frames of the episode.
        frame_kinds: ``pass`` / ``miss`` in order, per-frame path
            (:class:`~envs.wrappers.ObjectTracker`'s detector on every frame).
        step_kinds: The same from the fast path's :class:`~envs.fast.swept.StepPassDetector`
            on every ``frame_skip``-th frame.
        game_missed: What the game itself counts as missed
            (:data:`MISSED_IN_RAM`), ``None`` for games without such a counter.
    """

    episode: int
    frames: int
    frame_kinds: tuple[str, ...]
    step_kinds: tuple[str, ...]
    game_missed: int | None


def compare_passes(rec: Recording) -> list[PassCounts]:
    """Pass and miss events of each complete episode of ``rec``, per frame and per step.

    Args:
        rec: A :func:`record` ing of a game with derived objects (Skiing).

    Raises:
        ValueError: the game has no passable derived objects.
    """
    spec, fs = rec.game, rec.frame_skip
    # Without derived objects both paths report nothing: an empty comparison would look perfect.
    if not spec.derived:
        raise ValueError(f"{spec.name} has no derived objects to pass or miss")
    extractor, deriver, detector = ObjectExtractor(spec), Deriver(spec), InteractionDetector(spec)
    step_extractor, passes = make_extractor(spec, 1), StepPassDetector(spec, 1, frame_skip=fs)
    kinds: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for row in range(len(rec.rams)):
        ep, f = int(rec.episode[row]), int(rec.frame[row])
        if ep >= rec.complete:
            break
        ram = rec.rams[row]
        if f == 0:
            for part in (extractor, deriver, detector, step_extractor, passes):
                part.reset()
        objects = deriver.apply(extractor.update(ram)[0])
        events = detector.update(objects, f)
        if f == 0:
            continue  # the reset's events are never paid (and envpool has no RAM of it)
        kinds[ep][0].extend(e.kind for e in events if e.kind != "touch")
        if f % fs == 0:
            found = passes.update(step_extractor.update(ram[None]), np.array([f // fs]))[0]
            kinds[ep][1].extend(e.kind for e in found)
    missed = MISSED_IN_RAM.get(spec.name)
    out = []
    for ep in range(rec.complete):
        rows = np.flatnonzero(rec.episode == ep)
        out.append(PassCounts(ep, int(rec.frame[rows].max()), tuple(kinds[ep][0]),
                              tuple(kinds[ep][1]),
                              None if missed is None else missed(rec.rams[rows[-1]])))
    return out
