import dataclasses
import subprocess
import sys

import pytest

from envs.games import UnknownGameError, known_games, resolve_game

TEN_GAMES = ["Skiing", "MsPacman", "Tennis", "Breakout", "Pong", "Freeway", "Seaquest", "Boxing",
             "Asterix", "Kangaroo", "SpaceInvaders", "Riverraid"]


@pytest.mark.parametrize(
    "name, canonical",
    [("Skiing", "Skiing"), ("skiing", "Skiing"), ("ALE/Skiing-v5", "Skiing"),
     ("MsPacman", "MsPacman"), ("ms_pacman", "MsPacman"), ("MsPacmanNoFrameskip-v4", "MsPacman"),
     (" space-invaders ", "SpaceInvaders")],
)
def test_friendly_names_resolve(name, canonical):
    assert resolve_game(name).name == canonical


def test_unknown_game_lists_closest_matches():
    with pytest.raises(UnknownGameError, match=r"Unknown Atari game 'Skiin'.*Did you mean: Skiing"):
        resolve_game("Skiin")
    with pytest.raises(UnknownGameError, match="Supported games:"):
        resolve_game("Zzzzzzzz")
    with pytest.raises(UnknownGameError, match="non-empty string"):
        resolve_game("")


def test_registry_covers_the_required_games():
    games = set(known_games())
    assert len(games) >= 50
    assert set(TEN_GAMES) <= games


@pytest.mark.parametrize("game, avatar", [("Skiing", "Player"), ("Freeway", "Chicken"),
                                          ("Frogger", "Frog"), ("Pong", "Player")])
def test_avatar_per_game(game, avatar):
    spec = resolve_game(game)
    assert spec.avatar == avatar
    assert avatar not in spec.interactable


def test_skiing_is_not_clipped_and_hud_is_never_interactable():
    assert resolve_game("Skiing").clip_reward_default is False
    assert resolve_game("Pong").clip_reward_default is True
    for name in TEN_GAMES:
        spec = resolve_game(name)
        assert not set(spec.hud_categories) & set(spec.interactable), name
    seaquest = resolve_game("Seaquest")
    assert "PlayerMissile" in seaquest.ignored and "PlayerMissile" not in seaquest.interactable


def test_places_are_read_but_never_objects():
    spec = resolve_game("Freeway")
    [side] = spec.places
    assert side.category == "Sidewalk" and "far sidewalk" in spec.depicts["Sidewalk"]
    assert spec.readable == ("Car", "Sidewalk") and spec.event_kinds("Sidewalk") == ("touch",)
    # Never in the observation or the detector: those follow the categories.
    assert "Sidewalk" not in spec.categories and "Sidewalk" not in spec.interactable
    for name in known_games():  # a place's name must not shadow an object's table row
        g = resolve_game(name)
        names = [p.category for p in g.places]
        assert len(set(names)) == len(names) and not set(names) & set(g.categories), name
        assert not g.places or g.avatar, name  # the potential measures from the avatar


@pytest.mark.parametrize("game, displays", [
    ("Seaquest", {"OxygenBar", "CollectedDiver"}),
    ("ChopperCommand", {"MiniPlayer", "MiniTruck", "MiniEnemy"}),
    ("MontezumaRevenge", {"Key_HUD", "Amulet_HUD", "Torch_HUD", "Sword_HUD"}),
    ("PrivateEye", {"Money_Bag", "Gun", "Button", "Comb", "Shoe_Sole", "Vase", "Necklace", "Stamp"}),
])
def test_displays_ocatari_does_not_flag_as_hud_are_never_interactable(game, displays):
    # Gauges, scanners and inventories are drawn where the avatar never goes: a reward
    # table row for one could never be paid, and would tell a reader of the table nonsense.
    spec = resolve_game(game)
    assert displays <= set(spec.categories) and not displays & set(spec.interactable)
    assert spec.interactable  # the game's own objects still are


def test_shipped_catalog_matches_installed_ocatari(capsys):
    from envs.tools.catalog import main

    assert main([]) == 0, capsys.readouterr().out


def test_resolving_a_game_does_not_import_ocatari():
    # The reward-table build and every CLI start resolve games: OCAtari's import costs ~3 s.
    code = ("import sys; from envs.games import resolve_game; resolve_game('MsPacman'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'ocatari', 'ale_py'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_extractor_refuses_a_catalog_that_disagrees_with_ocatari():
    from envs.objects import ObjectExtractor

    spec = resolve_game("Skiing")
    wrong = dataclasses.replace(spec, max_objects={**spec.max_objects, "Tree": 99})
    with pytest.raises(RuntimeError, match="python -m envs.tools.catalog --write"):
        ObjectExtractor(wrong)
