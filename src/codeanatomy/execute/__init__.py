"""Stage 5: execution of the schedule under the compiled policy."""
