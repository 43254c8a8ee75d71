"""Training: the one epoch loop for every network (``loop``) and the reference evaluation of an image set (``evaluation``)."""
