"""The template's DeepARImage mapping is generated from the sagemaker SDK; it must stay in step."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "generate_deepar_image_map", ROOT / "scripts" / "generate_deepar_image_map.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_given_the_sdk_when_rendering_the_mapping_then_the_template_carries_it_verbatim():
    generator = _generator()
    images = generator.sdk_images()
    assert generator.template_block((ROOT / "template.yaml").read_text()) == generator.render(
        images
    )


def test_given_the_sdk_then_every_commercial_region_we_document_has_a_deepar_image():
    images = _generator().sdk_images()
    for region in ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"):
        assert images[region].endswith(f".dkr.ecr.{region}.amazonaws.com/forecasting-deepar:1")
    assert images["eu-west-1"].startswith("224300973850.")
