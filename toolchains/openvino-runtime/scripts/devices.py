"""Lists the devices OpenVINO sees, with their full names and, for an NPU, the driver version.

Request: {}
Result:  {"openvino": str, "devices": [{"device": str, "name": str, "driver": str | null}]}
"""

import openvino as ov
from phiforge_io import run


def devices(_request: dict) -> dict:
    core = ov.Core()
    found = []
    for device in core.available_devices:
        driver = None
        if device.startswith("NPU"):
            try:
                driver = str(core.get_property(device, "NPU_DRIVER_VERSION"))
            except RuntimeError:
                driver = "unknown"
        found.append({"device": device, "name": str(core.get_property(device, "FULL_DEVICE_NAME")), "driver": driver})
    return {"openvino": ov.get_version(), "devices": found}


if __name__ == "__main__":
    run(devices, name="devices")
