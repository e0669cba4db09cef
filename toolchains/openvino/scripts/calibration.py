"""The calibration data of a data-aware INT4 compression, built the way optimum-intel builds it.

optimum-intel accepts a list of strings as the dataset of an OVWeightQuantizationConfig (its Python
API; optimum-cli's --dataset takes dataset names only, which need the Hugging Face Hub). For a list
it tokenizes each text whole, in list order, takes the first num_samples, and feeds them through
OVModelForCausalLM.prepare_inputs: no shuffling, no random windows. phiforge relies on that for
reproducibility: the same texts in the same order give the same statistics and the same weights.
The seed is still fixed (OVQuantizer's default, 42) so that any sampling optimum adds later stays
repeatable.

The statistics step and the compression step both call these functions, so the statistics a
compression loads were collected on exactly the samples it would have collected them on itself.
"""

from pathlib import Path

from phiforge_io import RequestError

# OVQuantizer's own default; stated so that a later optimum default cannot change the bytes.
SEED = 42
ALGORITHMS = ("awq", "scale_estimation", "gptq", "lora_correction")


def check_calibration(calibration) -> dict:
    if not isinstance(calibration, dict):
        raise RequestError("calibration must be an object with texts and the algorithms to run")
    unknown = set(calibration) - {"texts", "statistics_dir", *ALGORITHMS}
    if unknown:
        raise RequestError(f"unknown calibration keys: {', '.join(sorted(unknown))}")
    texts = calibration.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(text, str) and text.strip() for text in texts):
        raise RequestError("calibration.texts must be a non-empty list of non-empty strings")
    for name in ALGORITHMS:
        if not isinstance(calibration.get(name, False), bool):
            raise RequestError(f"calibration.{name} must be true or false")
    statistics_dir = calibration.get("statistics_dir")
    if statistics_dir is not None and not (isinstance(statistics_dir, str) and Path(statistics_dir).is_dir()):
        raise RequestError(f"calibration.statistics_dir must be an existing folder, got {statistics_dir!r}")
    return {"texts": texts, "statistics_dir": statistics_dir, **{name: calibration.get(name, False) for name in ALGORITHMS}}


def load_for_calibration(base_dir: Path):
    """The base IR as optimum-intel's causal LM, not compiled: what OVQuantizer calibrates with."""
    from optimum.intel import OVModelForCausalLM

    return OVModelForCausalLM.from_pretrained(base_dir, compile=False)


def weight_config(quantization: dict, calibration: dict, tokenizer: str):
    """The OVWeightQuantizationConfig optimum-cli would build from the same flags, with the texts as its dataset."""
    from optimum.intel import OVWeightQuantizationConfig

    return OVWeightQuantizationConfig(
        bits=4,
        sym=quantization["sym"],
        group_size=quantization["group_size"],
        ratio=quantization["ratio"],
        backup_precision=quantization.get("backup_precision"),
        dataset=calibration["texts"],
        num_samples=len(calibration["texts"]),
        tokenizer=tokenizer,
        quant_method="awq" if calibration["awq"] else "default",
        scale_estimation=calibration["scale_estimation"] or None,
        gptq=calibration["gptq"] or None,
        lora_correction=calibration["lora_correction"] or None,
        statistics_path=calibration["statistics_dir"],
    )


def calibration_dataset(model, config):
    """The nncf.Dataset optimum-intel builds from the config's list of texts, for the model's one IR."""
    from optimum.intel import OVQuantizer

    built = OVQuantizer(model, seed=SEED).dataset_builder.build_from_quantization_config(config)
    return built["model"]
