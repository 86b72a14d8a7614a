"""yujing.alerting — windows, rules, levels, routing, notification pipeline and channels."""
