"""Experiment configuration: the schema (`schema.py`) and the generic YAML loader behind it (`loader.py`)."""

from vision_collapse.config.loader import flatten
from vision_collapse.config.schema import (
    DATASETS,
    IMBALANCE_PROFILES,
    LABEL_SAMPLING,
    LABEL_SOURCES,
    MODEL_KINDS,
    PRECISIONS,
    SAMPLERS,
    STRATEGIES,
    DataConfig,
    EvalConfig,
    ExperimentConfig,
    JudgeConfig,
    LogConfig,
    LoopConfig,
    ModelConfig,
    TrainConfig,
    all_keys,
    config_from_yaml_text,
    config_to_dict,
    config_to_yaml,
    diff_configs,
    load_config,
)

__all__ = [
    "DATASETS", "IMBALANCE_PROFILES", "LABEL_SAMPLING", "LABEL_SOURCES", "MODEL_KINDS", "PRECISIONS", "SAMPLERS",
    "STRATEGIES", "DataConfig", "EvalConfig", "ExperimentConfig", "JudgeConfig", "LogConfig", "LoopConfig",
    "ModelConfig", "TrainConfig", "all_keys", "config_from_yaml_text", "config_to_dict", "config_to_yaml",
    "diff_configs", "flatten", "load_config",
]
