def clamp(x, low=0, high=10):
    return max(low, min(high, x))
