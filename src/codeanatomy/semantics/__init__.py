"""Stage 3: the data-operations mapping (entity and relationship specs) and its compiler."""
