"""Monitoring and retraining (lifecycle stages 4 and 5).

Step modules, one per function, named like it (functions/<x>/app.py -> monitor/<x>.py):
- activate_monitoring: an endpoint state change turns its accuracy alarm's actions on or off;
- monitor_endpoint: the hourly run scores the previous forecast, publishes the loss, stores the
  next one;
- retrain_on_alarm: the accuracy alarm starts exactly one build per alarm episode.
Pure rules (no AWS, no ports): names, events, window, rolling, episode. The StateTable records
and the endpoint's state: records. Ports (what the stage needs from AWS): ports; their real
adapters live in feecast/adapters. docs/monitoring.md explains the design.
"""
