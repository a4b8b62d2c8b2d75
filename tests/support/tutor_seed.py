"""The seed's example inputs for the language-learning endpoints, shared by the fast,
facts and e2e suites (the numbers the seed documents for level feedback)."""

SEED_ANALYSIS = {
    "grammar": 75,
    "vocabulary": 68,
    "fluency": 72,
    "pronunciation": 65,
    "taskAchievement": 78,
    "interaction": 70,
}
SEED_FEEDBACK = {"analysis": SEED_ANALYSIS, "level": "B1"}
SEED_PARTICIPANTS = ["Student123", "Teacher456"]
