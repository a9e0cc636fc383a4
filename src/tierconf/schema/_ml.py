"""The ``ml`` domain: model versions, training, inference, features, audio and AI features.

Rendered into the ``spotify-ai-agent-ml-config`` ConfigMap. ``ML_MODEL_VERSION`` is text:
a version written ``1.10`` in YAML stays ``1.10``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from tierconf.schema._fields import DOMAIN_MODEL_CONFIG, group, setting

ModelStage = Literal["development", "staging", "production", "archived"]
InferenceDevice = Literal["cpu", "cuda"]
AudioFormat = Literal["mp3", "wav", "flac", "ogg", "m4a", "aac"]
SpleeterModel = Literal["spleeter:2stems", "spleeter:4stems", "spleeter:5stems"]

__all__ = [
    "AudioFormat",
    "AudioSettings",
    "FeatureStoreSettings",
    "InferenceDevice",
    "InferenceSettings",
    "MlConfig",
    "MlModelSettings",
    "MlRegistrySettings",
    "ModelStage",
    "PlaylistGenerationSettings",
    "RecommendationSettings",
    "SentimentSettings",
    "SpleeterModel",
    "SpleeterSettings",
    "TrainingSettings",
]


class MlModelSettings(BaseModel):
    """The recommendation model the services load from the registry."""

    model_config = DOMAIN_MODEL_CONFIG

    name: str = setting(
        "spotify-ai-recommender",
        key="ML_MODEL_NAME",
        description="Registered name of the model served.",
        min_length=1,
    )
    version: str = setting(
        "1.0",
        key="ML_MODEL_VERSION",
        description="Version of the model served, as text (1.10 is not 1.1).",
        min_length=1,
        pattern=r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$",
    )
    stage: ModelStage = setting(
        "production",
        key="ML_MODEL_STAGE",
        description="Registry stage the served version must be in.",
    )


class MlRegistrySettings(BaseModel):
    """The model registry (MLflow)."""

    model_config = DOMAIN_MODEL_CONFIG

    url: str = setting(
        "http://mlflow.ml.svc.cluster.local:5000",
        key="ML_REGISTRY_URL",
        description="Base URL of the model registry.",
        pattern=r"^https?://\S+$",
    )
    timeout: int = setting(
        30,
        key="ML_REGISTRY_TIMEOUT",
        description="Seconds one registry call may take.",
        unit="seconds",
        ge=1,
        le=600,
    )


class TrainingSettings(BaseModel):
    """Training pipelines (batch jobs)."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(
        False, key="ML_TRAINING_ENABLED", description="Whether training jobs may be scheduled."
    )
    batch_size: int = setting(
        64,
        key="ML_TRAINING_BATCH_SIZE",
        description="Samples per training batch.",
        unit="samples",
        ge=1,
        le=65536,
    )
    epochs: int = setting(
        20, key="ML_TRAINING_EPOCHS", description="Passes over the training set.", ge=1, le=10000
    )
    learning_rate: float = setting(
        0.001,
        key="ML_TRAINING_LEARNING_RATE",
        description="Initial learning rate of the optimiser.",
        gt=0,
        le=1,
    )
    max_training_hours: int = setting(
        12,
        key="ML_MAX_TRAINING_HOURS",
        description="Wall-clock time after which a training job is stopped.",
        unit="hours",
        ge=1,
        le=168,
    )
    gpu_enabled: bool = setting(
        False, key="ML_TRAINING_GPU_ENABLED", description="Whether training jobs request GPUs."
    )


class InferenceSettings(BaseModel):
    """Online model inference in the API services."""

    model_config = DOMAIN_MODEL_CONFIG

    batch_size: int = setting(
        32,
        key="ML_INFERENCE_BATCH_SIZE",
        description="Most requests grouped into one inference batch.",
        unit="requests",
        tenant=True,
        ge=1,
        le=1024,
    )
    timeout_ms: int = setting(
        2000,
        key="ML_INFERENCE_TIMEOUT_MS",
        description="Longest one inference call may take.",
        unit="milliseconds",
        ge=10,
        le=600000,
    )
    max_concurrency: int = setting(
        8,
        key="ML_INFERENCE_MAX_CONCURRENCY",
        description="Inference calls one worker process runs at the same time.",
        unit="requests",
        ge=1,
        le=1024,
    )
    device: InferenceDevice = setting("cpu", key="ML_INFERENCE_DEVICE", description="Device models run on.")


class FeatureStoreSettings(BaseModel):
    """Feature extraction and caching."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(
        True, key="FEATURE_STORE_ENABLED", description="Whether features come from the store."
    )
    cache_ttl: int = setting(
        3600,
        key="FEATURE_STORE_CACHE_TTL",
        description="Lifetime of cached feature vectors.",
        unit="seconds",
        ge=1,
        le=604800,
    )
    refresh_interval: int = setting(
        900,
        key="FEATURE_STORE_REFRESH_INTERVAL",
        description="Seconds between recomputations of precomputed features.",
        unit="seconds",
        ge=60,
        le=604800,
    )


class AudioSettings(BaseModel):
    """Audio ingestion and analysis."""

    model_config = DOMAIN_MODEL_CONFIG

    sample_rate: int = setting(
        44100,
        key="AUDIO_SAMPLE_RATE",
        description="Sample rate audio is resampled to before analysis.",
        unit="hertz",
        ge=8000,
        le=192000,
    )
    max_duration_seconds: int = setting(
        600,
        key="AUDIO_MAX_DURATION_SECONDS",
        description="Longest track accepted for analysis.",
        unit="seconds",
        tenant=True,
        ge=1,
        le=14400,
    )
    supported_formats: tuple[AudioFormat, ...] = setting(
        ("mp3", "wav", "flac", "ogg", "m4a"),
        key="AUDIO_SUPPORTED_FORMATS",
        description="Audio container formats the pipeline decodes.",
    )
    max_file_size_mb: int = setting(
        100,
        key="AUDIO_MAX_FILE_SIZE_MB",
        description="Largest audio file the analysis pipeline accepts.",
        unit="MiB",
        ge=1,
        le=4096,
    )


class SpleeterSettings(BaseModel):
    """Source separation with Spleeter."""

    model_config = DOMAIN_MODEL_CONFIG

    enabled: bool = setting(True, key="SPLEETER_ENABLED", description="Whether stem separation is offered.")
    model: SpleeterModel = setting(
        "spleeter:2stems", key="SPLEETER_MODEL", description="Pretrained Spleeter model used."
    )
    timeout: int = setting(
        300,
        key="SPLEETER_TIMEOUT",
        description="Seconds one separation job may take.",
        unit="seconds",
        ge=1,
        le=3600,
    )


class RecommendationSettings(BaseModel):
    """The recommendation engine."""

    model_config = DOMAIN_MODEL_CONFIG

    max_results: int = setting(
        50,
        key="RECOMMENDATION_MAX_RESULTS",
        description="Most tracks one recommendation request returns.",
        unit="tracks",
        tenant=True,
        ge=1,
        le=500,
    )


class SentimentSettings(BaseModel):
    """Sentiment analysis of lyrics and comments."""

    model_config = DOMAIN_MODEL_CONFIG

    model: str = setting(
        "cardiffnlp/twitter-roberta-base-sentiment-latest",
        key="SENTIMENT_MODEL",
        description="Hugging Face model used for sentiment analysis.",
        min_length=1,
    )
    threshold: float = setting(
        0.7,
        key="SENTIMENT_THRESHOLD",
        description="Confidence below which a sentiment label is reported as neutral.",
        unit="ratio",
        ge=0,
        le=1,
    )


class PlaylistGenerationSettings(BaseModel):
    """AI playlist generation."""

    model_config = DOMAIN_MODEL_CONFIG

    max_tracks: int = setting(
        50,
        key="PLAYLIST_GENERATION_MAX_TRACKS",
        description="Most tracks in one generated playlist.",
        unit="tracks",
        tenant=True,
        ge=1,
        le=1000,
    )


class MlConfig(BaseModel):
    """The ``ml`` domain: models, pipelines and AI features."""

    model_config = DOMAIN_MODEL_CONFIG

    model: MlModelSettings = group(MlModelSettings)
    registry: MlRegistrySettings = group(MlRegistrySettings)
    training: TrainingSettings = group(TrainingSettings)
    inference: InferenceSettings = group(InferenceSettings)
    feature_store: FeatureStoreSettings = group(FeatureStoreSettings)
    audio: AudioSettings = group(AudioSettings)
    spleeter: SpleeterSettings = group(SpleeterSettings)
    recommendation: RecommendationSettings = group(RecommendationSettings)
    sentiment: SentimentSettings = group(SentimentSettings)
    playlist_generation: PlaylistGenerationSettings = group(PlaylistGenerationSettings)
