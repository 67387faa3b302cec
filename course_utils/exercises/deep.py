"""Deep nets (notebooks 05-06): the residual block."""
