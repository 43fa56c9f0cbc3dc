"""The theory: the toy model (Eq. 2) and its exact loss, the reduced gradient flow, the initial gradient signal."""
