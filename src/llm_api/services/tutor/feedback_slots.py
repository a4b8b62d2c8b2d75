"""The sentences of level feedback as slots (``services.slots``): one task per sentence,
what it must be about, and the sentence code writes from the facts when the model's fails.

Each strength and area for improvement is about its own skill; the recommendations are
about the areas for improvement and the next lowest skill; the overall sentence names the
strongest and weakest skills, the next steps the weakest. No slot lets the model write a
digit: code writes every score and level.
"""

from __future__ import annotations

from llm_api.schemas.tutor import CefrLevel
from llm_api.services.slots import Slot
from llm_api.services.tutor import scores
from llm_api.services.tutor.levels import LEVEL_NAMES, next_level
from llm_api.services.wording_check import Expect

#: how feedback names each skill inside a sentence
NAMED = {key: label.lower() for key, label in scores.SKILLS}

STRENGTH = {
    "grammar": "Your grammar is accurate, so your meaning comes across clearly.",
    "vocabulary": "Your vocabulary is wide enough to say what you mean.",
    "fluency": "Your fluency lets you keep talking without long pauses.",
    "pronunciation": "Your pronunciation is clear and easy to understand.",
    "taskAchievement": "Your task achievement is strong, and you answer what each task asks.",
    "interaction": "Your interaction is natural, and you respond well to other speakers.",
}
IMPROVEMENT = {
    "grammar": "Check your grammar in longer sentences, especially the verb tenses.",
    "vocabulary": "Build your vocabulary so that you can say more with less effort.",
    "fluency": "Work on your fluency by speaking for longer without stopping.",
    "pronunciation": "Work on your pronunciation of word stress and vowel sounds.",
    "taskAchievement": "Improve your task achievement by answering every part of a task.",
    "interaction": "Improve your interaction by asking questions and reacting to others.",
}
ACTIVITY = {
    "grammar": "Rewrite a short text each day to practise one grammar point.",
    "vocabulary": "Keep a vocabulary notebook by topic and review it every day.",
    "fluency": "Talk about a familiar topic without notes to build your fluency.",
    "pronunciation": "Shadow short audio clips to practise your pronunciation.",
    "taskAchievement": "Plan each answer before you speak to improve your task achievement.",
    "interaction": "Practise interaction by asking a partner follow-up questions.",
}
#: three recommendations: the areas for improvement, then the next lowest skill
RECOMMENDATIONS = 3


def feedback_slots(analysis: dict[str, float], level: CefrLevel) -> dict[str, list[Slot]]:
    """The slots of one feedback, by part: overall, strengths, improvements,
    recommendations, next_steps."""
    top = scores.strengths(analysis)
    low = scores.weaknesses(analysis, RECOMMENDATIONS)
    best, worst = top[0].key, low[0].key
    following = next_level(level)
    goal = f"the {LEVEL_NAMES[following]} level" if following else "full mastery"
    return {
        "overall": [
            Slot(
                task="Write one encouraging sentence to a language learner whose strongest "
                f"skill is {NAMED[best]} and whose weakest skill is {NAMED[worst]}.",
                lead=f"Your {NAMED[best]}",
                expect=Expect(subject=(NAMED[best], NAMED[worst])),
                fallback=f"Your {NAMED[best]} is your strongest skill, and steady work on "
                f"your {NAMED[worst]} will lift your level.",
            )
        ],
        "strengths": [
            Slot(
                task=f"Write one sentence praising the learner's {NAMED[s.key]}.",
                lead=f"Your {NAMED[s.key]}",
                expect=Expect(subject=(NAMED[s.key],)),
                fallback=STRENGTH[s.key],
            )
            for s in top
        ],
        "improvements": [
            Slot(
                task=f"Write one sentence telling the learner how to improve their {NAMED[s.key]}.",
                lead=f"Your {NAMED[s.key]} will get better if you",
                expect=Expect(subject=(NAMED[s.key],)),
                fallback=IMPROVEMENT[s.key],
            )
            for s in low[: scores.HIGHLIGHTED]
        ],
        "recommendations": [
            Slot(
                task=f"Write one sentence with one study activity that improves {NAMED[s.key]}.",
                lead=f"A good way to practise your {NAMED[s.key]} is to",
                expect=Expect(subject=(NAMED[s.key],)),
                fallback=ACTIVITY[s.key],
            )
            for s in low
        ],
        "next_steps": [
            Slot(
                task=f"Write one sentence telling the learner how to reach {goal} by "
                f"working on their {NAMED[worst]}.",
                lead=f"To reach {goal}, practise your {NAMED[worst]}",
                expect=Expect(subject=(NAMED[worst],)),
                fallback=f"To reach {goal}, practise your {NAMED[worst]} in real "
                "conversations every week.",
            )
        ],
    }
