"""Team-written training data for the classifier: ``python -m yujing.models.datagen`` (see models/data/)."""
