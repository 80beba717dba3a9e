"""spectralcore-rational: an example third-party plugin for spectralcore.

Adds the eigh backward ``softgap`` (see :mod:`spectralcore_rational.plugin`). Installing the
package is enough: spectralcore finds it through the entry-point group ``spectralcore``.
"""

from .plugin import SoftGap

__all__ = ["SoftGap"]
__version__ = "0.1.0"
