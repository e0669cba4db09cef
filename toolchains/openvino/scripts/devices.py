"""Lists the devices OpenVINO sees, with their full names and, for an NPU, the driver version.

Result (stdout, one JSON line): [{"device": str, "name": str, "driver": str | null}]
"""

import json

import openvino as ov

core = ov.Core()
devices = []
for device in core.available_devices:
    driver = None
    if device.startswith("NPU"):
        try:
            driver = str(core.get_property(device, "NPU_DRIVER_VERSION"))
        except RuntimeError:
            driver = "unknown"
    devices.append({"device": device, "name": str(core.get_property(device, "FULL_DEVICE_NAME")), "driver": driver})
print(json.dumps({"openvino": ov.get_version(), "devices": devices}))
