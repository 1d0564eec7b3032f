"""The eval suite: datasets, metrics, baselines and the report a docs owner reads."""
