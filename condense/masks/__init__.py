"""Attention masks as source → selection → application, named by one variant grammar (``variant``).

- ``saliency``: where a per-image map A in [0, 1] comes from (registry :data:`~condense.masks.saliency.SOURCES`;
  the paper's FCN is the first entry), written once per dataset and source (``maps``).
- ``selection``: which real images are masked (a fixed subset per class at ratio r).
- ``application``: what a map does to an image (the fill of the masked-out region, soft maps), and the
  masked view of a dataset that condensation draws its real batches from.
- ``fcn_training``: how the paper's FCN is trained.
"""
