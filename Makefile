# The README's two commands: `make demo` (simulated device) and `make test`.
# Both set up the virtual environment first; a second run reuses it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SIM    := sim-data
# The picamera2 release the simulation runs (docs/SIMULATION.md cites its lines).
PICAMERA2 := 0.3.38

.PHONY: setup demo test lint bench crash-sweep clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "bodycam needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
		{ echo "cannot create a virtual environment: on Debian run 'sudo apt install python3-venv'"; exit 2; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps 'picamera2==$(PICAMERA2)'
	$(BIN)/python -m pip install --quiet --no-deps 'rpi-lgpio==0.6'  # RPi.GPIO over hw_sim's lgpio
	@$(BIN)/python -m pip install --quiet -e '.[tpm]' || echo "tpm2-pytss could not be built \
		(apt install libtss2-dev pkg-config): TPM keys unavailable, the TPM tests skip (fail under CI)"
	@touch $@

# Provision a simulated device once (custodian keys, device identity), then run
# the demo scenario on the virtual clock on fresh evidence, verify and export it.
demo: setup
	@test -f $(SIM)/custodian/custodian.key || $(BIN)/bodycam keys custodian --out $(SIM)/custodian
	@test -f $(SIM)/identity/device.key || $(BIN)/bodycam keys device --device-id SIM-0001 \
		--custodian-pub $(SIM)/custodian/custodian.pub --out $(SIM)/identity
	@rm -rf $(SIM)/evidence $(SIM)/export $(SIM)/display
	$(BIN)/bodycam run --sim --fast --scenario hw_sim/scenarios/demo.toml \
		--data-dir $(SIM)/evidence --identity $(SIM)/identity --display-out $(SIM)/display
	$(BIN)/bodycam verify $(SIM)/evidence --device-pub $(SIM)/identity/device.pub
	$(BIN)/bodycam export $(SIM)/evidence --custodian-key $(SIM)/custodian/custodian.key \
		--device-pub $(SIM)/identity/device.pub --out $(SIM)/export
	@echo "Exported recordings are in $(SIM)/export; the front panel's frames in $(SIM)/display."

lint: setup
	$(BIN)/ruff check .
	$(BIN)/pyright

test: lint
	$(BIN)/python -m pytest -q -n 2

# picamera2's output classes (CircularOutput2, FileOutput) and OpenCV (picamera2's
# putText watermark example) are baselines; bench_boot starts the simulated device (the
# real picamera2, installed by setup) from a cold process. OpenCV is installed beside the
# venv so the tests and the device never see it.
bench: setup
	@test -d $(VENV)/bench-lib/cv2 || $(BIN)/python -m pip install --quiet --no-deps \
		--target $(VENV)/bench-lib 'opencv-python-headless==5.0.0.93'
	$(BIN)/python -m bench

# Power cuts at every operation on the simulated medium, strict and torn (issue 16):
# a few hundred boots, about 20 minutes on 2 cores; prints JSON (cuts, worst loss, findings).
crash-sweep: setup
	$(BIN)/python -m bench.crash_sweep

clean:
	rm -rf $(VENV) $(SIM) .pytest_cache .ruff_cache .hypothesis
