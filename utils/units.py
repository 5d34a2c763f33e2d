"""Cross-entropy units: nats (natural logarithm) and bits (base 2); ``bits = nats / ln 2``."""
import math

LN2 = math.log(2.0)


def nats_to_bits(nats):
    """``nats / ln 2``: a float, array or tensor of nats in bits."""
    return nats / LN2
