"""Security guards the entry points call: webhook replay refusal, staff lookup limits, CLI identity."""
