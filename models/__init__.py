"""yujing.models — the machine-learning models: scorers, training, inference, platform attribution."""
