"""Monitoring and retraining (lifecycle stages 4 and 5).

- `activation`: an endpoint state change turns its monitoring on or off (schedule + alarm);
- `run`: the hourly run scores the previous forecast, publishes the loss, stores the next one;
- `retrain`: the accuracy alarm starts exactly one build per alarm episode.

Pure modules (`names`, `events`, `window`, `episode`, `alarm`) hold the rules; `aws` holds
the small boto3 adapters these use cases need. docs/monitoring.md explains the design.
"""
