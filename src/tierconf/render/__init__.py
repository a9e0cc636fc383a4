"""Rendering: typed configuration -> Kubernetes objects -> files."""

from tierconf.render._hash import content_hash
from tierconf.render._manifests import (
    CONFIGMAP_SUFFIX,
    RenderedObject,
    RenderedSet,
    RenderOptions,
    render,
)
from tierconf.render._values import get_path, parse_rendered, render_scalar
from tierconf.render._volume import write_volume
from tierconf.render._writers import (
    FORMATS,
    OutputFormat,
    format_masked,
    to_env,
    to_json,
    to_yaml,
    write_rendered,
)

__all__ = [
    "CONFIGMAP_SUFFIX",
    "FORMATS",
    "OutputFormat",
    "RenderOptions",
    "RenderedObject",
    "RenderedSet",
    "content_hash",
    "format_masked",
    "get_path",
    "parse_rendered",
    "render",
    "render_scalar",
    "to_env",
    "to_json",
    "to_yaml",
    "write_rendered",
    "write_volume",
]
