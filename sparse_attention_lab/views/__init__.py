"""What the reader sees: figures, scorecards, static and live explorers, the training panel, attention maps."""
