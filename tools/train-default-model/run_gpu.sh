#!/bin/bash
# The whole GPU run in one command: train (language model + instructions), then the perplexity
# references (transformers) of the trained model and of the test fixtures. Run from the repository root
# with the corpus archive and these scripts in $D:
#   D=dir-with-corpus.tar.xz-and-scripts OUT=results-dir bash run_gpu.sh smoke|full
# $OUT receives the weights in parts of 15 MiB (cat model.safetensors.part-* > model.safetensors),
# meta.tar (config, tokenizer config, train_log.json, perplexity references) and log.txt.
set -o pipefail
MODE=${1:?smoke or full}
D=${D:?}
OUT=${OUT:?}
export PYTHONUNBUFFERED=1
case $MODE in
  smoke) ARGS="--pretrain-steps 100 --sft-steps 30 --eval-every 50" ;;
  full) ARGS="${TRAIN_ARGS:-}" ;;
  *) echo "unknown mode $MODE"; exit 2 ;;
esac
rm -rf /tmp/corpus /tmp/model /tmp/fx
mkdir -p /tmp/corpus /tmp/fx
# the test data with its compressed tokenizers unpacked (tests/data/tok/README.md)
tests/unpack_data.sh tests/data /tmp/mlxc-data || exit 1
tar xJf "$D/corpus.tar.xz" -C /tmp/corpus || exit 1
(cd /tmp/corpus && sha256sum -c SHA256SUMS) || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, transformers, tokenizers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'tokenizers', tokenizers.__version__)"
{
  python3 "$D/train.py" --corpus /tmp/corpus --tokenizer /tmp/mlxc-data/tok/llama2 --out /tmp/model $ARGS --compile ||
    { echo "=== compiled run failed: eager"; python3 "$D/train.py" --corpus /tmp/corpus --tokenizer /tmp/mlxc-data/tok/llama2 --out /tmp/model $ARGS; }
} 2>&1 | tee "$OUT/log.txt" || exit 1
python3 "$D/make_perplexity_reference.py" --model /tmp/model --text /tmp/corpus/heldout.txt --json /tmp/model/ppl_heldout.json 2>&1 | tee -a "$OUT/log.txt"
python3 "$D/make_perplexity_reference.py" --model /tmp/model --text "$D/sample.txt" --json /tmp/model/ppl_sample.json \
  --settings 64:64:-1,128:128:-1,128:32:-1 2>&1 | tee -a "$OUT/log.txt"
cp "$D/sample.txt" /tmp/fx/
python3 "$D/make_perplexity_reference.py" --fixtures /tmp/fx --tokenizers /tmp/mlxc-data/tok 2>&1 | tee -a "$OUT/log.txt"
cp /tmp/fx/reference.json /tmp/model/ppl_fixtures.json
(cd /tmp/model && split -b 15M model.safetensors "$OUT/model.safetensors.part-" &&
  tar cf "$OUT/meta.tar" config.json generation_config.json tokenizer_config.json train_log.json ppl_*.json)
ls -la "$OUT"
