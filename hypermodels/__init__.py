"""Reusable KerasTuner hypermodels.

They depend only on Keras and KerasTuner, never on `tunekit`, so they work with
any plain KerasTuner tuner:

```python
import keras_tuner as kt
from hypermodels import MnistDenseHyperModel

tuner = kt.RandomSearch(MnistDenseHyperModel(), objective="val_accuracy",
                        max_trials=5, directory="runs", project_name="plain")
```
"""

from hypermodels.cnn import ToonVisionCNNHyperModel
from hypermodels.dense import DenseHyperModel, MnistDenseHyperModel

__all__ = ["DenseHyperModel", "MnistDenseHyperModel", "ToonVisionCNNHyperModel"]
