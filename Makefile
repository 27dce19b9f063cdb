# GAN Studio. `make run` serves the app on http://localhost:8501; `make test` runs the tests (and
# `make test-team` the team-scale ones: several torchrun nodes, an MLflow server).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8501

.PHONY: run test test-fast test-team sr-photos install checkpoints bench clean gpu-check

# (Re)install only when a requirements file changed since the last install.
# The first install downloads several GB (torch with its CUDA libraries: .venv is about 6.8 GB) and
# takes minutes; pip shows its progress, one line per package.
$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "GAN Studio needs Python 3.10 or newer")'
	@test -x $(PY) || { echo "== 1/3 creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "python3 -m venv failed: on Debian/Ubuntu, apt-get install python3-venv"; exit 1; }; }
	@echo "== 2/3 installing requirements (first time: several GB, several minutes)"
	$(PY) -m pip install --disable-pip-version-check --progress-bar off -r requirements-dev.txt
	@echo "== 3/3 installing the offline audio renderer"
	$(PY) -m pip install --disable-pip-version-check --progress-bar off --no-deps "tinysoundfont>=0.3.6"
	touch $(STAMP)
	@echo "== installed; make run serves the studio on http://localhost:$(PORT)"

install: $(STAMP)

run: $(STAMP)
	@echo "GAN Studio on http://localhost:$(PORT) (Ctrl+C stops it; runs are kept in $${GAN_STUDIO_RUNS:-runs/})"
	$(PY) -m ui.serve --server.port $(PORT) --server.address localhost

test: $(STAMP)
	$(PY) -m pytest -m "not team"

test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e and not team"

# Two torchrun nodes on localhost and a real MLflow server (about a minute); CI runs it after `test`.
test-team: $(STAMP)
	$(PY) -m pytest -m team

# Photographs from Debian's wallpaper packages as an extra super-resolution training folder, data/sr_photos
# (23 photos at 1280 and 640 px with SOURCES.txt; never committed, never needed by the app). apt-get
# download + dpkg-deb -x: no root, nothing installed.
sr-photos: $(STAMP)
	$(PY) -m gan_core.data.wallpapers data/sr_photos

# Re-make every shipped checkpoint from its recipe (about 6.5 hours on 2 CPU cores).
checkpoints: $(STAMP)
	$(PY) -m gan_core train configs/mnist_classifier.yaml --out checkpoints/mnist_classifier
	$(PY) -m gan_core train configs/mnist_dcgan.yaml --out checkpoints/mnist_dcgan --run-dir runs/shipped-mnist_dcgan
	$(PY) -m gan_core eval checkpoints/mnist_dcgan.safetensors --update-card
	$(PY) -m gan_core train configs/mnist_cgan.yaml --out checkpoints/mnist_cgan --run-dir runs/shipped-mnist_cgan
	$(PY) -m gan_core eval checkpoints/mnist_cgan.safetensors --update-card
	for d in composer jamming hybrid; do \
	  $(PY) -m gan_core train configs/music_$$d.yaml --out checkpoints/music_$$d --run-dir runs/shipped-music_$$d && \
	  $(PY) -m gan_core eval checkpoints/music_$$d.safetensors --update-card || exit 1; done
	for m in anomaly_mnist_0 anomaly_brick anomaly_grass anomaly_gravel; do \
	  $(PY) -m gan_core train configs/$$m.yaml --out checkpoints/$$m || exit 1; done
	# image to image: sr_srgan_x4 starts from sr_srresnet_x4, so that one comes first
	for m in pix2pix_digits pix2pix_photos sr_srresnet_x4 sr_srgan_x4 sr_srresnet_x2; do \
	  $(PY) -m gan_core train configs/$$m.yaml --out checkpoints/$$m --run-dir runs/shipped-$$m && \
	  $(PY) -m gan_core eval checkpoints/$$m.safetensors --update-card || exit 1; done
	# unpaired translation: the UCI digits classifier measures cyclegan_digits, so it comes first
	$(PY) -m gan_core train configs/uci_digits_classifier.yaml --out checkpoints/uci_digits_classifier
	for m in cyclegan_digits cyclegan_strokes; do \
	  $(PY) -m gan_core train configs/$$m.yaml --out checkpoints/$$m --run-dir runs/shipped-$$m && \
	  $(PY) -m gan_core eval checkpoints/$$m.safetensors --update-card || exit 1; done
	$(PY) -m gan_core train configs/cyclegan_digits.yaml --set train.cycle_weight=0 --set name=cyclegan_digits_nocycle \
	  --set "description=cyclegan_digits's data and networks without the cycle loss (lambda_cyc = 0, so no identity term either); with the adversarial loss alone nothing makes a generator keep the digit, and it collapses. Shown to compare what the cycle loss does." \
	  --set "description_zh=与 cyclegan_digits 相同的数据和网络，但没有循环损失（λ_cyc = 0，因此也没有恒等项）：只靠对抗损失时，生成器不必保留数字，会发生模式崩溃。用于对比循环损失的作用。" \
	  --out checkpoints/cyclegan_digits_nocycle --run-dir runs/shipped-cyclegan_digits_nocycle
	$(PY) -m gan_core eval checkpoints/cyclegan_digits_nocycle.safetensors --update-card

# Check a GPU machine (under 6 minutes on one GPU; without a GPU, the CPU parts): figures in runs/gpu_check.json.
gpu-check: $(STAMP)
	scripts/gpu_check.sh runs/gpu_check.json

clean:
	rm -rf $(VENV) .pytest_cache test-results
