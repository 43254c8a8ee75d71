"""What a stage needs to know about a dataset besides its tensors, stored in the data file itself.

Like torchvision's ``Weights.meta``, the traits travel with the artifact: a derived dataset
(garments on textured backgrounds, say) carries its own DSA strategy and says which published
numbers apply to it (none), instead of every stage looking them up by dataset name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DatasetTraits:
    dsa_strategy: str  # the DSA strategy `--augment dsa` means for this dataset
    flip_safe: bool  # a horizontal flip keeps the class (False for digits)
    published_as: str | None  # the dataset whose published numbers apply (None: none do)
    base: str  # the dataset its images come from (itself, or a derived dataset's source)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: dict) -> DatasetTraits:
        return cls(**{key: value[key] for key in ("dsa_strategy", "flip_safe", "published_as", "base")})
