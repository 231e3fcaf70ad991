"""Prompt text that exercises what real histories contain.

Most prompts are a short English phrase; some carry emoji, CJK, right-to-left
script, combining marks, quotes, backslashes or newlines; about one in forty is
longer than 4000 characters (pasted style guides happen).
"""

from __future__ import annotations

import random

_SUBJECTS = [
    "a neon orange fox",
    "an astronaut cat",
    "a lighthouse in a storm",
    "a bowl of ramen",
    "a cyberpunk street market",
    "a tiny robot gardener",
    "a golden sunset over mountains",
    "an origami whale",
    "a medieval library",
    "a koi pond at dawn",
    "a vintage motorcycle",
    "a glass greenhouse",
    "a dragon made of clouds",
    "a mossy forest shrine",
]
_STYLES = [
    "cinematic lighting",
    "watercolor",
    "35mm film grain",
    "isometric",
    "studio photo",
    "oil painting",
    "low poly",
    "ukiyo-e",
    "volumetric fog",
    "hyperrealistic",
    "pastel palette",
    "--ar 16:9",
    "--v 6",
    "8k",
    "bokeh",
]
_EXOTIC = [
    "🦊🔥",
    "夕焼けの山",
    "日落時的金色山脈",
    "غروب الشمس فوق الجبال",
    "Zoë's café — naïve façade",
    'the sign says "OPEN"',
    "C:\\images\\out",
    "e\u0301le\u0301phant",
    "👩‍🚀 + 🐈 = 💫",
    "line one\nline two",
    "Ωμέγα",
    "🏳️‍🌈",
    "tab\tseparated",
]


def prompt(rand: random.Random) -> str:
    """One prompt; all randomness comes from `rand`, so the same item gets the same text."""
    roll = rand.random()
    base = f"{rand.choice(_SUBJECTS)}, {', '.join(rand.sample(_STYLES, rand.randint(1, 4)))}"
    if roll < 0.025:
        return _long_prompt(rand, base)
    if roll < 0.15:
        return f"{base}, {rand.choice(_EXOTIC)}"
    return base


def _long_prompt(rand: random.Random, base: str) -> str:
    """A few random clauses repeated in numbered sections: long, varied, and cheap to make."""
    clauses = [f"{rand.choice(_SUBJECTS)} in {rand.choice(_STYLES)} {rand.choice(_EXOTIC)}" for _ in range(6)]
    block = ", ".join(clauses)
    target = rand.randint(4100, 9000)
    sections = [base]
    while sum(len(part) + 2 for part in sections) < target:
        sections.append(f"[{len(sections)}] {block}")
    return ", ".join(sections)[:target]
