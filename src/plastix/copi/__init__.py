"""COPI (constrained parameter inference) and decorrelated learning: config, training, runner, analyses."""
