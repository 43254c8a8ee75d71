"""Networks: classifiers for condensation and evaluation (``classifiers``), attention FCNs (``fcn``),
and the one file format for every trained network (``store``)."""
